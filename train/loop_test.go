package train_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet"
	"github.com/effnet-go/effnet/layers"
	"github.com/effnet-go/effnet/train"
)

// A run stopped after epoch 1 and resumed from its checkpoint in fresh
// objects (a model even built from another seed) must end bit-identical to
// an uninterrupted run: weights, BN statistics, optimiser and EMA state.
func TestResumeIsBitIdentical(t *testing.T) {
	const epochs = 3
	opts := setupOptions{seed: 1, epochs: epochs, ema: true, rmsprop: true, lr: 0.01}

	whole := newSetup(t, opts)
	wantHist, err := whole.trainer(t).Run(context.Background())
	require.NoError(t, err)
	require.Len(t, wantHist, epochs)

	ckpt := filepath.Join(t.TempDir(), "ckpt.safetensors")
	first := newSetup(t, opts)
	first.cfg.CheckpointPath = ckpt
	first.cfg.OnEpoch = func(m train.EpochMetrics) error {
		if m.Epoch == 1 {
			return train.ErrStop
		}
		return nil
	}
	hist, err := first.trainer(t).Run(context.Background())
	require.NoError(t, err)
	require.Len(t, hist, 1, "ErrStop from OnEpoch ends the run after that epoch")

	other := opts
	other.seed = 99 // the checkpoint must overwrite every initial weight
	second := newSetup(t, other)
	second.cfg.CheckpointPath = ckpt
	tr := second.trainer(t)
	require.NoError(t, tr.LoadCheckpoint(ckpt))
	assert.Equal(t, 1, tr.Epoch())
	assert.Equal(t, first.cfg.Train.Len(), tr.Step())
	gotHist, err := tr.Run(context.Background())
	require.NoError(t, err)

	requireBitIdentical(t, whole.state(), second.state())
	require.Len(t, gotHist, epochs)
	for i := range gotHist {
		// Everything but the timings is a function of the computation.
		assert.Equal(t, wantHist[i].TrainLoss, gotHist[i].TrainLoss, "epoch %d", i+1)
		assert.Equal(t, wantHist[i].ValLoss, gotHist[i].ValLoss, "epoch %d", i+1)
		assert.Equal(t, wantHist[i].ValTop1, gotHist[i].ValTop1, "epoch %d", i+1)
		assert.Equal(t, wantHist[i].Step, gotHist[i].Step, "epoch %d", i+1)
		assert.Equal(t, wantHist[i].LR, gotHist[i].LR, "epoch %d", i+1)
	}
}

// noRNGRestore is a model whose checkpoint loses the dropout/drop-path
// random state.
type noRNGRestore struct{ *effnet.Model[float32] }

func (noRNGRestore) SetRNGState([]byte) error { return nil }

// The random state matters: resuming without it diverges from the
// uninterrupted run. This is the control that shows the bit-identity test
// above can fail.
func TestResumeWithoutRandomStateDiverges(t *testing.T) {
	opts := setupOptions{seed: 1, epochs: 2}
	whole := newSetup(t, opts)
	_, err := whole.trainer(t).Run(context.Background())
	require.NoError(t, err)

	ckpt := filepath.Join(t.TempDir(), "ckpt.safetensors")
	first := newSetup(t, opts)
	first.cfg.Epochs = 1
	first.cfg.CheckpointPath = ckpt
	_, err = first.trainer(t).Run(context.Background())
	require.NoError(t, err)

	second := newSetup(t, opts)
	tr, err := train.New[float32](noRNGRestore{second.model}, second.cfg)
	require.NoError(t, err)
	require.NoError(t, tr.LoadCheckpoint(ckpt))
	_, err = tr.Run(context.Background())
	require.NoError(t, err)

	a, b := whole.state(), second.state()
	name := "model/classifier.weight"
	assert.NotEqual(t, a[name], b[name])
}

func TestCheckpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "ckpt.safetensors")
	src := newSetup(t, setupOptions{seed: 3, epochs: 1, ema: true})
	src.cfg.CheckpointPath = ckpt
	_, err := src.trainer(t).Run(context.Background())
	require.NoError(t, err)

	// The checkpoint carries the architecture for effnet.SpecFromFile.
	spec, err := effnet.SpecFromFile(ckpt)
	require.NoError(t, err)
	assert.Equal(t, tinySpec(), spec)

	dst := newSetup(t, setupOptions{seed: 4, epochs: 1, ema: true})
	tr := dst.trainer(t)
	require.NoError(t, tr.LoadCheckpoint(ckpt))
	requireBitIdentical(t, src.state(), dst.state())
	assert.Equal(t, 1, tr.Epoch())
	require.Len(t, tr.History(), 1)

	wantRNG, err := src.model.RNGState()
	require.NoError(t, err)
	gotRNG, err := dst.model.RNGState()
	require.NoError(t, err)
	assert.Equal(t, wantRNG, gotRNG)
}

func TestCheckpointMismatchChangesNothing(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "ckpt.safetensors")
	src := newSetup(t, setupOptions{seed: 3, epochs: 1, ema: true})
	src.cfg.CheckpointPath = ckpt
	_, err := src.trainer(t).Run(context.Background())
	require.NoError(t, err)

	t.Run("no EMA configured", func(t *testing.T) {
		dst := newSetup(t, setupOptions{seed: 4, epochs: 1})
		before := dst.state()
		err := dst.trainer(t).LoadCheckpoint(ckpt)
		require.ErrorContains(t, err, "EMA")
		requireBitIdentical(t, before, dst.state())
	})
	t.Run("other optimiser", func(t *testing.T) {
		dst := newSetup(t, setupOptions{seed: 4, epochs: 1, ema: true, rmsprop: true})
		before := dst.state()
		err := dst.trainer(t).LoadCheckpoint(ckpt)
		require.ErrorContains(t, err, "optimiser state")
		requireBitIdentical(t, before, dst.state())
	})
	t.Run("other architecture", func(t *testing.T) {
		dst := newSetup(t, setupOptions{seed: 4, epochs: 1, ema: true})
		spec := tinySpec()
		spec.Head = 40
		m, err := effnet.New[float32](spec, 4)
		require.NoError(t, err)
		dst.model = m
		dst.cfg.Spec = spec
		dst.cfg.Optimizer, err = train.NewSGD(m.Params(), train.SGDConfig{Momentum: 0.9})
		require.NoError(t, err)
		dst.cfg.EMA, err = train.NewEMA(m.Params(), m.Buffers(), train.EMAConfig{Decay: 0.9})
		require.NoError(t, err)
		before := dst.state()
		err = dst.trainer(t).LoadCheckpoint(ckpt)
		require.ErrorContains(t, err, `model tensor "conv_head.weight" has shape [32 1 1 24], the model [40 1 1 24]`)
		requireBitIdentical(t, before, dst.state())
	})
	t.Run("not a checkpoint", func(t *testing.T) {
		weights := filepath.Join(dir, "weights.safetensors")
		require.NoError(t, src.model.Save(weights))
		dst := newSetup(t, setupOptions{seed: 4, epochs: 1, ema: true})
		err := dst.trainer(t).LoadCheckpoint(weights)
		require.ErrorContains(t, err, "not a training checkpoint")
	})
	t.Run("float64 model", func(t *testing.T) {
		m, err := effnet.New[float64](tinySpec(), 4)
		require.NoError(t, err)
		opt, err := train.NewSGD(m.Params(), train.SGDConfig{Momentum: 0.9})
		require.NoError(t, err)
		cfg := train.Config[float64]{Epochs: 1, Train: src.cfg.Train, Val: src.cfg.Val, Optimizer: opt, Schedule: train.Constant(0.1)}
		tr, err := train.New[float64](m, cfg)
		require.NoError(t, err)
		require.ErrorContains(t, tr.LoadCheckpoint(ckpt), "saved from a float32 model, loading into float64")
	})
}

// poisoned makes the logits NaN from the given Train-mode Forward call on
// (counting from 1), as a diverged network would.
type poisoned struct {
	*effnet.Model[float32]
	from, calls int
}

func (p *poisoned) Forward(x *layers.Tensor[float32], mode layers.Mode) (*layers.Tensor[float32], error) {
	y, err := p.Model.Forward(x, mode)
	if err != nil || mode != layers.Train {
		return y, err
	}
	p.calls++
	if p.calls >= p.from {
		y.Data[0] = float32(math.NaN())
	}
	return y, nil
}

func TestNonFiniteLossStopsAndKeepsCheckpoint(t *testing.T) {
	ckpt := filepath.Join(t.TempDir(), "ckpt.safetensors")
	s := newSetup(t, setupOptions{seed: 5, epochs: 3})
	s.cfg.CheckpointPath = ckpt
	perEpoch := s.cfg.Train.Len()
	badStep := perEpoch + 2 // the second step of epoch 2
	var afterEpoch1 []byte
	s.cfg.OnEpoch = func(m train.EpochMetrics) error {
		var err error
		afterEpoch1, err = os.ReadFile(ckpt)
		return err
	}
	tr, err := train.New[float32](&poisoned{Model: s.model, from: badStep}, s.cfg)
	require.NoError(t, err)
	hist, err := tr.Run(context.Background())
	require.ErrorIs(t, err, train.ErrNonFinite)
	assert.ErrorContains(t, err, fmt.Sprintf("epoch 2, step %d: train: loss is NaN", badStep))
	assert.Len(t, hist, 1)
	assert.Equal(t, badStep-1, tr.Step(), "the bad step is not counted as done")

	got, err := os.ReadFile(ckpt)
	require.NoError(t, err)
	assert.Equal(t, afterEpoch1, got, "the checkpoint of epoch 1 is left as it was")
}

// A learning rate far too large makes the run diverge on its own; it must
// stop with an error naming the step instead of training on NaN weights.
func TestDivergenceStops(t *testing.T) {
	s := newSetup(t, setupOptions{seed: 5, epochs: 3, lr: 1e12})
	s.cfg.Schedule = train.Constant(1e12)
	_, err := s.trainer(t).Run(context.Background())
	require.ErrorIs(t, err, train.ErrNonFinite)
	assert.Regexp(t, `train: epoch \d+, step \d+: train: (loss is|gradient of)`, err.Error())
	for _, p := range s.model.Params() {
		for _, v := range p.Value.Data {
			require.False(t, math.IsNaN(float64(v)), "%s holds NaN: a bad step was applied", p.Name)
		}
	}
}

func TestMetricsLog(t *testing.T) {
	var log bytes.Buffer
	s := newSetup(t, setupOptions{seed: 6, epochs: 2})
	s.cfg.Metrics = &log
	var steps []train.StepMetrics
	s.cfg.OnStep = func(m train.StepMetrics) error { steps = append(steps, m); return nil }
	hist, err := s.trainer(t).Run(context.Background())
	require.NoError(t, err)

	perEpoch := s.cfg.Train.Len()
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	require.Len(t, lines, 2*perEpoch+2, "a line per step and per epoch")
	var epochLines []map[string]any
	for i, line := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "line %d", i+1)
		switch m["kind"] {
		case "step":
			for _, k := range []string{"epoch", "step", "loss", "top1", "lr", "images", "images_per_s"} {
				assert.Contains(t, m, k, "step line %d", i+1)
			}
		case "epoch":
			epochLines = append(epochLines, m)
			assert.Equal(t, perEpoch*len(epochLines)+len(epochLines)-1, i, "epoch line after its steps")
		default:
			t.Fatalf("line %d has kind %v", i+1, m["kind"])
		}
	}
	require.Len(t, epochLines, 2)
	for i, m := range epochLines {
		for _, k := range []string{"epoch", "train_loss", "val_loss", "val_top1", "val_top5", "images_per_s", "seconds", "lr"} {
			require.Contains(t, m, k)
		}
		assert.Equal(t, float64(i+1), m["epoch"])
		top1, top5 := m["val_top1"].(float64), m["val_top5"].(float64)
		assert.True(t, 0 <= top1 && top1 <= top5 && top5 <= 1, "accuracies are fractions, top-5 ≥ top-1: %v %v", top1, top5)
		assert.Equal(t, 1.0, top5, "4 classes: the label is always among the top 5")
		assert.Greater(t, m["images_per_s"].(float64), 0.0)
	}

	read, err := train.ReadEpochMetrics(strings.NewReader(log.String()))
	require.NoError(t, err)
	assert.Equal(t, hist, read, "the log holds exactly what Run returned")

	// Step lines match the callbacks, and the learning rates the schedule.
	require.Len(t, steps, 2*perEpoch)
	for i, m := range steps {
		assert.Equal(t, i+1, m.Step)
		assert.Equal(t, s.cfg.Schedule.LR(i), m.LR, "step %d", i+1)
		assert.Equal(t, 8, m.Images)
	}
}

// ReadEpochMetrics keeps the last run's lines when a resumed run re-ran an
// epoch.
func TestReadEpochMetricsAfterRerun(t *testing.T) {
	log := `{"kind":"epoch","epoch":1,"val_top1":0.1}
{"kind":"step","epoch":2,"step":9}
{"kind":"epoch","epoch":2,"val_top1":0.2}
{"kind":"epoch","epoch":2,"val_top1":0.25}
{"kind":"epoch","epoch":3,"val_top1":0.3}
`
	got, err := train.ReadEpochMetrics(strings.NewReader(log))
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, []float64{0.1, 0.25, 0.3}, []float64{got[0].ValTop1, got[1].ValTop1, got[2].ValTop1})

	_, err = train.ReadEpochMetrics(strings.NewReader("{\"kind\":\"epoch\"}\nnot json\n"))
	assert.ErrorContains(t, err, "line 2")
}

// The optimiser sees the schedule's rate: at rate 0 no parameter moves
// (only BN running statistics do), and at a useful rate the tiny network
// learns the synthetic task.
func TestScheduleAndOptimizerWiring(t *testing.T) {
	frozen := newSetup(t, setupOptions{seed: 8, epochs: 1})
	frozen.cfg.Schedule = train.Constant(0)
	before := frozen.state()
	_, err := frozen.trainer(t).Run(context.Background())
	require.NoError(t, err)
	after := frozen.state()
	for _, p := range frozen.model.Params() {
		assert.Equal(t, before["model/"+p.Name], after["model/"+p.Name], p.Name)
	}
	assert.NotEqual(t, before["model/bn1.running_mean"], after["model/bn1.running_mean"])

	s := newSetup(t, setupOptions{seed: 8, epochs: 6, trainSize: 96, lr: 0.1})
	hist, err := s.trainer(t).Run(context.Background())
	require.NoError(t, err)
	last := hist[len(hist)-1]
	// Chance is 0.25 on 24 validation images. The classes differ in
	// colour and position, so a trained network gets nearly all of them;
	// 0.6 leaves room for a slow start without passing an untrained one
	// (the binomial chance of ≥ 15/24 at p = 0.25 is below 1e-4).
	assert.GreaterOrEqual(t, last.ValTop1, 0.6, "history %+v", hist)
	assert.Less(t, last.TrainLoss, hist[0].TrainLoss)
}

func TestProgressBar(t *testing.T) {
	var bar bytes.Buffer
	s := newSetup(t, setupOptions{seed: 9, epochs: 1})
	s.cfg.Progress = &bar
	_, err := s.trainer(t).Run(context.Background())
	require.NoError(t, err)
	out := bar.String()
	assert.Contains(t, out, "epoch 1/1 loss")
	assert.Contains(t, out, "img/s")
	assert.Contains(t, out, "validate")
	// Each bar finishes once, and no drawing shows a rate measured from
	// the first drawing rather than from the start: such a rate either
	// counts 0 images (0 img/hr) or divides a batch by microseconds,
	// millions of images a second where the test model runs a few
	// thousand.
	assert.Equal(t, 1, strings.Count(out, "| (48/48,"), "epoch bar finished once:\n%s", out)
	assert.Equal(t, 1, strings.Count(out, "| (24/24,"), "validation bar finished once:\n%s", out)
	assert.NotContains(t, out, "img/hr")
	assert.NotContains(t, out, "img/min")
	rates := regexp.MustCompile(`, (\d+) img/s\)`).FindAllStringSubmatch(out, -1)
	require.NotEmpty(t, rates, out)
	for _, r := range rates {
		v, err := strconv.Atoi(r[1])
		require.NoError(t, err)
		assert.Less(t, v, 100_000, "a rate of %s img/s:\n%s", r[1], out)
	}
}

func TestConfigValidation(t *testing.T) {
	s := newSetup(t, setupOptions{seed: 1, epochs: 1})
	cases := map[string]func(c *train.Config[float32]){
		"Epochs = 0":               func(c *train.Config[float32]) { c.Epochs = 0 },
		"Train loader is required": func(c *train.Config[float32]) { c.Train = nil },
		"Val loader is required":   func(c *train.Config[float32]) { c.Val = nil },
		"Optimizer is required":    func(c *train.Config[float32]) { c.Optimizer = nil },
		"Schedule is required":     func(c *train.Config[float32]) { c.Schedule = nil },
		"LabelSmoothing = 1":       func(c *train.Config[float32]) { c.LabelSmoothing = 1 },
		"EvalEMA needs an EMA":     func(c *train.Config[float32]) { c.EvalEMA = true },
		"LogEvery = -1":            func(c *train.Config[float32]) { c.LogEvery = -1 },
		"Config.Spec":              func(c *train.Config[float32]) { c.Spec.Stem = 0 },
	}
	for want, edit := range cases {
		c := s.cfg
		c.Spec = c.Spec.Clone()
		edit(&c)
		_, err := train.New[float32](s.model, c)
		assert.ErrorContains(t, err, want)
	}
	_, err := train.New[float32](nil, s.cfg)
	assert.ErrorContains(t, err, "model is nil")
}

func TestContextCancelStops(t *testing.T) {
	s := newSetup(t, setupOptions{seed: 1, epochs: 2})
	ctx, cancel := context.WithCancel(context.Background())
	s.cfg.OnStep = func(m train.StepMetrics) error {
		if m.Step == 2 {
			cancel()
		}
		return nil
	}
	_, err := s.trainer(t).Run(ctx)
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
}
