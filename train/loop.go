package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/effnet-go/effnet/arch"
	"github.com/effnet-go/effnet/data"
	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/layers"
)

// Model is what a Trainer trains; *effnet.Model satisfies it. Forward maps
// an NHWC batch to logits [N, classes], Backward adds the parameter
// gradients of the last Train-mode Forward into Param.Grad, and the random
// state is the generator behind dropout and drop-path, saved in
// checkpoints so that a resumed run draws the same masks.
type Model[T layers.Float] interface {
	Forward(x *layers.Tensor[T], mode layers.Mode) (*layers.Tensor[T], error)
	Backward(dlogits *layers.Tensor[T]) (*layers.Tensor[T], error)
	Params() []*layers.Param[T]
	Buffers() []*layers.Buffer[T]
	RNGState() ([]byte, error)
	SetRNGState(state []byte) error
}

// ErrStop, returned by an OnStep or OnEpoch callback, ends Run early
// without an error: after the current epoch's checkpoint for OnEpoch, at
// once for OnStep.
var ErrStop = errors.New("train: stop requested")

// Config sets up a Trainer. Fields marked required must be set; New checks
// every field.
type Config[T layers.Float] struct {
	// Epochs is the number of epochs to train in total, counting those
	// done before a resume (required, > 0).
	Epochs int
	// Train yields the training batches (required); it should shuffle.
	// Val yields the validation batches (required), evaluated after every
	// epoch; it should not augment.
	Train, Val *data.Loader
	// Optimizer updates the model's parameters (required); it must be
	// built over the model's Params.
	Optimizer Optimizer[T]
	// Schedule gives the learning rate of each step, numbered from 0
	// across epochs (required).
	Schedule Schedule
	// LabelSmoothing ε in [0, 1) for the training loss; validation loss
	// is always plain cross-entropy, as timm reports it.
	LabelSmoothing float64
	// EMA, if not nil, is updated after every step and saved in
	// checkpoints. EvalEMA evaluates with the averaged weights instead of
	// the trained ones.
	EMA     *EMA[T]
	EvalEMA bool
	// CheckpointPath, if not empty, is the safetensors file written
	// (atomically) at the end of every epoch; see Trainer.SaveCheckpoint.
	CheckpointPath string
	// Spec, if it has stages, is stored in checkpoints as
	// effnet.SpecFromFile reads it, so a run can be resumed or its model
	// rebuilt from the checkpoint alone.
	Spec arch.Network
	// Metrics, if not nil, receives the metrics log: one JSON object per
	// line, a "step" line every LogEvery steps (0 means every step) and an
	// "epoch" line after each epoch.
	Metrics  io.Writer
	LogEvery int
	// Progress, if not nil, shows a progress bar per epoch (loss,
	// accuracy, images/s, ETA); os.Stderr is the usual choice.
	Progress io.Writer
	// OnStep and OnEpoch, if not nil, are called after every step and
	// after every epoch (after its checkpoint). An error stops Run and is
	// returned, except ErrStop, which stops it cleanly.
	OnStep  func(StepMetrics) error
	OnEpoch func(EpochMetrics) error
}

func (c *Config[T]) validate() error {
	var errs []error
	if c.Epochs <= 0 {
		errs = append(errs, fmt.Errorf("train: Epochs = %d, want > 0", c.Epochs))
	}
	if c.Train == nil {
		errs = append(errs, errors.New("train: Config.Train loader is required"))
	}
	if c.Val == nil {
		errs = append(errs, errors.New("train: Config.Val loader is required"))
	}
	if c.Optimizer == nil {
		errs = append(errs, errors.New("train: Config.Optimizer is required"))
	}
	if c.Schedule == nil {
		errs = append(errs, errors.New("train: Config.Schedule is required"))
	}
	if !(c.LabelSmoothing >= 0 && c.LabelSmoothing < 1) {
		errs = append(errs, fmt.Errorf("train: LabelSmoothing = %v, want a value in [0, 1)", c.LabelSmoothing))
	}
	if c.EvalEMA && c.EMA == nil {
		errs = append(errs, errors.New("train: EvalEMA needs an EMA"))
	}
	if c.LogEvery < 0 {
		errs = append(errs, fmt.Errorf("train: LogEvery = %d, want >= 0", c.LogEvery))
	}
	if len(c.Spec.Stages) > 0 {
		if err := c.Spec.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("train: Config.Spec: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Trainer runs the training loop: for each epoch, every training batch goes
// through ZeroGrad, Forward in Train mode, the label-smoothed cross-entropy,
// Backward and an optimiser step at the schedule's learning rate (and an
// EMA update); then the validation set is evaluated in Eval mode, a
// checkpoint is written and the epoch is logged.
//
// A NaN or infinite loss or gradient stops Run with an error wrapping
// ErrNonFinite that names the epoch and step; the weights are then not
// updated and no checkpoint is written, so the last one on disk is the last
// good state.
type Trainer[T layers.Float] struct {
	model   Model[T]
	params  []*layers.Param[T]
	cfg     Config[T]
	loss    *layers.CrossEntropy[T]
	valLoss *layers.CrossEntropy[T]
	log     *metricsLog

	epoch   int // epochs completed
	step    int // optimiser steps completed
	history []EpochMetrics

	input *tensor.Tensor[T] // batch converted to T when T is not float32
}

// New returns a Trainer for model with cfg, starting at epoch 0 (see
// LoadCheckpoint to resume).
func New[T layers.Float](model Model[T], cfg Config[T]) (*Trainer[T], error) {
	if model == nil {
		return nil, errors.New("train: model is nil")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.LogEvery == 0 {
		cfg.LogEvery = 1
	}
	cfg.Spec = cfg.Spec.Clone()
	return &Trainer[T]{
		model:   model,
		params:  model.Params(),
		cfg:     cfg,
		loss:    layers.NewCrossEntropy[T](cfg.LabelSmoothing),
		valLoss: layers.NewCrossEntropy[T](0),
		log:     newMetricsLog(cfg.Metrics),
	}, nil
}

// Epoch returns the number of epochs completed.
func (t *Trainer[T]) Epoch() int { return t.epoch }

// Step returns the number of optimiser steps completed.
func (t *Trainer[T]) Step() int { return t.step }

// History returns the metrics of every completed epoch, including those
// before a resume (they are stored in the checkpoint).
func (t *Trainer[T]) History() []EpochMetrics { return append([]EpochMetrics(nil), t.history...) }

// Run trains from the current epoch up to Config.Epochs and returns the
// whole history. Cancelling ctx stops it between batches with ctx.Err().
func (t *Trainer[T]) Run(ctx context.Context) ([]EpochMetrics, error) {
	for t.epoch < t.cfg.Epochs {
		m, err := t.runEpoch(ctx)
		if errors.Is(err, ErrStop) {
			break
		}
		if err != nil {
			return t.History(), err
		}
		if t.cfg.CheckpointPath != "" {
			if err := t.SaveCheckpoint(t.cfg.CheckpointPath); err != nil {
				return t.History(), err
			}
		}
		if err := t.log.write(m); err != nil {
			return t.History(), err
		}
		if t.cfg.OnEpoch != nil {
			if err := t.cfg.OnEpoch(m); errors.Is(err, ErrStop) {
				break
			} else if err != nil {
				return t.History(), err
			}
		}
	}
	return t.History(), nil
}

// runEpoch trains and evaluates one epoch and records it in the history.
func (t *Trainer[T]) runEpoch(ctx context.Context) (EpochMetrics, error) {
	start := time.Now()
	epoch := t.epoch + 1
	m := EpochMetrics{Kind: "epoch", Epoch: epoch}
	ep, err := t.cfg.Train.Epoch(ctx, t.epoch)
	if err != nil {
		return m, err
	}
	defer ep.Close()

	var bar *progressbar.ProgressBar
	var (
		lossSum   float64
		correct   int
		images    int
		trainTime time.Duration
	)
	for {
		stepStart := time.Now()
		b, err := ep.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return m, fmt.Errorf("train: epoch %d: %w", epoch, err)
		}
		if bar == nil && t.cfg.Progress != nil {
			// The loader does not tell its batch size; the first batch
			// does, and with it the images an epoch visits whether or not
			// the last short batch is dropped. The bar's clock starts
			// before the first step, so that its rate counts that step.
			n := min(t.cfg.Train.Dataset().Len(), t.cfg.Train.Len()*b.N)
			bar = t.newBar(n, fmt.Sprintf("epoch %d/%d", epoch, t.cfg.Epochs))
		}
		lr := t.cfg.Schedule.LR(t.step)
		loss, err := t.trainStep(b, lr)
		if err != nil {
			return m, fmt.Errorf("train: epoch %d, step %d: %w", epoch, t.step+1, err)
		}
		t.step++
		trainTime += time.Since(stepStart)
		lossSum += loss * float64(b.N)
		correct += t.loss.Correct()
		images += b.N
		m.LR = lr
		sm := StepMetrics{
			Kind: "step", Epoch: epoch, Step: t.step, Loss: loss,
			Top1: float64(t.loss.Correct()) / float64(b.N), LR: lr, Images: b.N,
			ImagesPerS: float64(images) / trainTime.Seconds(),
		}
		if bar != nil {
			// Add and Describe both draw, at most every 200 ms. The
			// epoch's first batch is counted before it is described,
			// so that the first drawing shows it and its rate, not 0
			// images at 0 img/hr; later ones after, because Describe
			// draws a finished bar's last line again. The bar only
			// draws; its errors are the terminal's.
			desc := fmt.Sprintf("epoch %d/%d loss %.3f acc %5.1f%%", epoch, t.cfg.Epochs,
				lossSum/float64(images), 100*float64(correct)/float64(images))
			if images == b.N && images < bar.GetMax() {
				_ = bar.Add(b.N)
				bar.Describe(desc)
			} else {
				bar.Describe(desc)
				_ = bar.Add(b.N)
			}
		}
		if t.step%t.cfg.LogEvery == 0 {
			if err := t.log.write(sm); err != nil {
				return m, err
			}
		}
		if t.cfg.OnStep != nil {
			if err := t.cfg.OnStep(sm); err != nil {
				return m, err
			}
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if images == 0 {
		return m, fmt.Errorf("train: epoch %d had no training images", epoch)
	}
	ep.Close()
	m.Step = t.step
	m.TrainLoss = lossSum / float64(images)
	m.TrainTop1 = float64(correct) / float64(images)
	m.TrainSeconds = trainTime.Seconds()
	m.ImagesPerS = float64(images) / trainTime.Seconds()

	ev, err := t.evaluateVal(ctx)
	if err != nil {
		return m, fmt.Errorf("train: epoch %d: evaluation: %w", epoch, err)
	}
	m.ValLoss, m.ValTop1, m.ValTop5, m.ValEMA = ev.Loss, ev.Top1, ev.Top5, t.cfg.EvalEMA
	// The epoch counts as done from here: the checkpoint Run writes next
	// must record it.
	t.epoch++
	m.Seconds = time.Since(start).Seconds()
	t.history = append(t.history, m)
	return m, nil
}

// newBar returns a progress bar of n images on Config.Progress, or nil
// without one. Its clock starts now: left to start at its first drawing,
// after the first batch, it divided that batch by microseconds.
func (t *Trainer[T]) newBar(n int, desc string) *progressbar.ProgressBar {
	if t.cfg.Progress == nil {
		return nil
	}
	bar := progressbar.NewOptions(n,
		progressbar.OptionSetWriter(t.cfg.Progress),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("img"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(t.cfg.Progress) }),
	)
	bar.StartWithoutRender()
	return bar
}

// trainStep runs one batch: forward, loss, backward, checks, update.
func (t *Trainer[T]) trainStep(b *data.Batch, lr float64) (float64, error) {
	x, err := t.batchTensor(b)
	if err != nil {
		return 0, err
	}
	t.cfg.Optimizer.ZeroGrad()
	logits, err := t.model.Forward(x, layers.Train)
	if err != nil {
		return 0, err
	}
	loss, err := t.loss.Forward(logits, b.Labels)
	if err != nil {
		return 0, err
	}
	if err := CheckLoss(loss); err != nil {
		return loss, err
	}
	if _, err := t.model.Backward(t.loss.Backward()); err != nil {
		return loss, err
	}
	if err := CheckGrads(t.params); err != nil {
		return loss, err
	}
	if err := t.cfg.Optimizer.Step(lr); err != nil {
		return loss, err
	}
	if t.cfg.EMA != nil {
		if err := t.cfg.EMA.Update(); err != nil {
			return loss, err
		}
	}
	return loss, nil
}

// batchTensor views a float32 batch as a tensor without copying, or
// converts it into a reused buffer for float64.
func (t *Trainer[T]) batchTensor(b *data.Batch) (*tensor.Tensor[T], error) {
	if d, ok := any(b.Data).([]T); ok {
		return tensor.FromData(d, b.Shape()...)
	}
	t.input = tensor.Ensure(t.input, b.Shape()...)
	for i, v := range b.Data {
		t.input.Data[i] = T(v)
	}
	return t.input, nil
}

func (t *Trainer[T]) evaluateVal(ctx context.Context) (EvalMetrics, error) {
	if t.cfg.EvalEMA {
		if err := t.cfg.EMA.Apply(); err != nil {
			return EvalMetrics{}, err
		}
		ev, err := t.Evaluate(ctx, t.cfg.Val)
		if rerr := t.cfg.EMA.Restore(); err == nil {
			err = rerr
		}
		return ev, err
	}
	return t.Evaluate(ctx, t.cfg.Val)
}

// Evaluate runs the model in Eval mode over one pass of loader (its epoch
// 0) and returns the mean loss and top-1/top-5 accuracy. It uses whatever
// weights the model holds; Run evaluates with the EMA weights when
// Config.EvalEMA is set.
func (t *Trainer[T]) Evaluate(ctx context.Context, loader *data.Loader) (EvalMetrics, error) {
	ep, err := loader.Epoch(ctx, 0)
	if err != nil {
		return EvalMetrics{}, err
	}
	defer ep.Close()
	bar := t.newBar(loader.Dataset().Len(), "  validate")
	var ev EvalMetrics
	var lossSum float64
	var top1, top5 int
	for {
		b, err := ep.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return ev, err
		}
		x, err := t.batchTensor(b)
		if err != nil {
			return ev, err
		}
		logits, err := t.model.Forward(x, layers.Eval)
		if err != nil {
			return ev, err
		}
		loss, err := t.valLoss.Forward(logits, b.Labels)
		if err != nil {
			return ev, err
		}
		lossSum += loss * float64(b.N)
		c1, c5 := topK(logits.Data, b.N, logits.Shape[1], b.Labels)
		top1 += c1
		top5 += c5
		ev.Images += b.N
		if bar != nil {
			_ = bar.Add(b.N)
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if ev.Images == 0 {
		return ev, errors.New("train: no validation images")
	}
	n := float64(ev.Images)
	ev.Loss, ev.Top1, ev.Top5 = lossSum/n, float64(top1)/n, float64(top5)/n
	if math.IsNaN(ev.Loss) || math.IsInf(ev.Loss, 0) {
		return ev, fmt.Errorf("train: validation loss is %v: %w", ev.Loss, ErrNonFinite)
	}
	return ev, nil
}
