// Command imagenette trains an EfficientNet on Imagenette (or any image
// folder) on the CPU and reports its accuracy.
//
// With no flags it trains a small EfficientNet on the mini-Imagenette
// embedded in package data (1,000 training and 200 validation images of the
// ten classes, 64×64) in about half a minute on two cores:
//
//	go run ./examples/imagenette
//
// On the real data set:
//
//	go run ./examples/imagenette -data ../shared/data/imagenette2-224 -model b0 -resolution 128 -epochs 5 -out runs/b0
//	go run ./examples/imagenette -download imagenette2-160 -model b0 -resolution 128
//	go run ./examples/imagenette -out runs/b0 -resume -epochs 10   # continue a run
//
// The model is one of the released EfficientNets (-model b0..b7), a custom
// scaling of B0 (-width and -depth multipliers) or a compound scaling
// (-phi with coefficients -alpha, -beta, -gamma, by default the paper's
// 1.2, 1.1, 1.15). Training is SGD with Nesterov momentum or the paper's
// RMSProp, a linear warmup and a cosine decay of the learning rate, label
// smoothing, weight decay exempting BatchNorm and biases, and optionally an
// EMA of the weights for evaluation.
//
// With -out DIR it writes DIR/metrics.jsonl (a JSON line per step and per
// epoch), DIR/checkpoint.safetensors after every epoch (the full training
// state, for -resume), DIR/best.safetensors and DIR/final.safetensors
// (weights only, loadable with effnet.Load), DIR/run.json (the settings,
// which -resume reuses) and DIR/curves.png (loss and accuracy per epoch).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/effnet-go/effnet"
	"github.com/effnet-go/effnet/arch"
	"github.com/effnet-go/effnet/data"
	"github.com/effnet-go/effnet/flops"
	"github.com/effnet-go/effnet/scaling"
	"github.com/effnet-go/effnet/train"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the settings of a run, saved as run.json so that -resume
// continues with exactly them.
type options struct {
	Data        string  `json:"data"`
	Download    string  `json:"download"`
	Cache       string  `json:"cache"`
	Model       string  `json:"model"`
	Alpha       float64 `json:"alpha"`
	Beta        float64 `json:"beta"`
	Gamma       float64 `json:"gamma"`
	Phi         float64 `json:"phi"`
	Width       float64 `json:"width"`
	Depth       float64 `json:"depth"`
	Resolution  int     `json:"resolution"`
	Epochs      int     `json:"epochs"`
	Batch       int     `json:"batch"`
	LR          float64 `json:"lr"`
	Optimizer   string  `json:"optimizer"`
	WeightDecay float64 `json:"weight_decay"`
	Warmup      float64 `json:"warmup_epochs"`
	Smoothing   float64 `json:"label_smoothing"`
	EMA         float64 `json:"ema"`
	CropScale   float64 `json:"crop_scale"`
	Workers     int     `json:"workers"`
	Seed        uint64  `json:"seed"`
}

// Defaults for the embedded mini-Imagenette, tuned so that the run with no
// flags finishes in about half a minute on two cores and learns as much as
// a thousand images allow (39.5 % top-1 with seed 1, 32.5 to 45 % over
// seeds 1 to 3, chance being 10 %): a B0 at
// half width and half depth on the 64×64 images as they are, small batches
// for more steps, a low learning rate, and crops that keep at least 60 % of
// the image (the usual 8 % leaves the network underfitting in 30 epochs;
// batch 32 or rates of 0.05 to 0.2 ended near 20-30 %).
var miniDefaults = options{
	Width: 0.5, Depth: 0.5, Resolution: 64, Epochs: 30, Batch: 16, LR: 0.02,
	Optimizer: "sgd", WeightDecay: 5e-5, Warmup: 1, Smoothing: 0.1, CropScale: 0.6, Seed: 1,
}

// Defaults for real data: timm-like settings with a learning rate and
// crops for a short run. B0 on Imagenette at 128 px for 5 epochs reached
// 46.1 % top-1 with lr 0.03 and crops keeping at least 35 % of the image
// (fastai's Imagenette setting), against 32.3 % with timm's lr 0.1 (for
// batch 32) and 8 % crops, one run of seed 1 each.
var dataDefaults = options{
	Model: "b0", Epochs: 5, Batch: 32, LR: 0.03, Optimizer: "sgd", WeightDecay: 5e-5,
	Warmup: 1, Smoothing: 0.1, CropScale: 0.35, Seed: 1,
}

// resumeFlags are the flags -resume accepts; the others come from run.json.
var resumeFlags = []string{"resume", "out", "epochs", "workers", "progress"}

// run is the whole command, separated from main so that tests can call it.
// It returns the exit status: 0, 1 for a failed run, 2 for bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	o, out, resume, progress, code := parseFlags(args, stderr)
	if code >= 0 {
		return code
	}
	if err := o.validate(); err != nil {
		fmt.Fprintf(stderr, "imagenette: %v\n", err)
		return 2
	}
	if err := train1(ctx, o, out, resume, progress, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "imagenette: %v\n", err)
		return 1
	}
	return 0
}

// parseFlags returns the options, or an exit code ≥ 0 when the command
// should stop (help, or bad usage with the message already printed).
func parseFlags(args []string, stderr io.Writer) (o options, out string, resume, progress bool, code int) {
	fs := flag.NewFlagSet("imagenette", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: imagenette [flags]\n\nTrains an EfficientNet on Imagenette (default: the embedded mini-Imagenette).\n\nflags:")
		fs.PrintDefaults()
	}
	var f options
	fs.StringVar(&f.Data, "data", "", "data folder: Imagenette layout (train/, val/) or an image folder (root/<class>/*.jpg; every 10th image is held out for validation)")
	fs.StringVar(&f.Download, "download", "", "download and use a fastai archive: "+strings.Join(data.Archives, ", "))
	fs.StringVar(&f.Cache, "cache", "", "folder for -download (default: the user cache folder/effnet)")
	fs.StringVar(&f.Model, "model", "", "released model b0..b7 (or any arch.Preset name); default b0 with -data, a small custom model on the mini set")
	fs.Float64Var(&f.Alpha, "alpha", 1.2, "compound scaling: depth coefficient α (with -phi)")
	fs.Float64Var(&f.Beta, "beta", 1.1, "compound scaling: width coefficient β (with -phi)")
	fs.Float64Var(&f.Gamma, "gamma", 1.15, "compound scaling: resolution coefficient γ (with -phi)")
	fs.Float64Var(&f.Phi, "phi", 0, "compound scaling exponent φ: width β^φ, depth α^φ, resolution 224·γ^φ")
	fs.Float64Var(&f.Width, "width", 0, "custom model: width multiplier of B0")
	fs.Float64Var(&f.Depth, "depth", 0, "custom model: depth multiplier of B0")
	fs.IntVar(&f.Resolution, "resolution", 0, "input side in pixels (default: the model's own, 64 on the mini set)")
	fs.IntVar(&f.Epochs, "epochs", 0, "epochs in total (default 30 on the mini set, 5 otherwise)")
	fs.IntVar(&f.Batch, "batch", 0, "batch size (default 16 on the mini set, 32 otherwise)")
	fs.Float64Var(&f.LR, "lr", 0, "peak learning rate (default 0.02 on the mini set, else 0.03 for sgd; rmsprop: 0.016·batch/256)")
	fs.StringVar(&f.Optimizer, "optimizer", "", "sgd (Nesterov momentum 0.9) or rmsprop (TensorFlow EfficientNet: decay 0.9, momentum 0.9, ε 1e-3) (default sgd)")
	fs.Float64Var(&f.WeightDecay, "weight-decay", 0, "L2 weight decay, not applied to BatchNorm and biases (default 5e-5)")
	fs.Float64Var(&f.Warmup, "warmup", 0, "epochs of linear learning-rate warmup before the cosine decay (default 1)")
	fs.Float64Var(&f.Smoothing, "smoothing", 0, "label smoothing (default 0.1)")
	fs.Float64Var(&f.EMA, "ema", 0, "EMA decay of the weights for evaluation, e.g. 0.999; 0 evaluates the trained weights")
	fs.Float64Var(&f.CropScale, "crop-scale", 0, "smallest area fraction of random-resized-crop (default 0.6 on the mini set, 0.35 otherwise)")
	fs.IntVar(&f.Workers, "workers", 0, "image decoding goroutines (default GOMAXPROCS)")
	fs.Uint64Var(&f.Seed, "seed", 0, "seed of weights, data order and augmentation (default 1)")
	fs.StringVar(&out, "out", "", "folder for metrics.jsonl, checkpoints and curves.png (default: none)")
	fs.BoolVar(&resume, "resume", false, "continue the run in -out from its checkpoint, with its saved settings")
	fs.BoolVar(&progress, "progress", true, "draw a progress bar on stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, "", false, false, 0
		}
		return o, "", false, false, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imagenette: unexpected arguments %q\n", fs.Args())
		return o, "", false, false, 2
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })

	if resume {
		if out == "" {
			fmt.Fprintln(stderr, "imagenette: -resume needs -out, the folder of the run to continue")
			return o, "", false, false, 2
		}
		for name := range set {
			if !slices.Contains(resumeFlags, name) {
				fmt.Fprintf(stderr, "imagenette: -%s cannot be given with -resume: the run's settings come from %s (only -%s may be given)\n",
					name, filepath.Join(out, "run.json"), strings.Join(resumeFlags[1:], ", -"))
				return o, "", false, false, 2
			}
		}
		saved, err := os.ReadFile(filepath.Join(out, "run.json"))
		if err != nil {
			fmt.Fprintf(stderr, "imagenette: -resume: %v\n", err)
			return o, "", false, false, 2
		}
		if err := json.Unmarshal(saved, &o); err != nil {
			fmt.Fprintf(stderr, "imagenette: -resume: %s: %v\n", filepath.Join(out, "run.json"), err)
			return o, "", false, false, 2
		}
		if set["epochs"] {
			o.Epochs = f.Epochs
		}
		if set["workers"] {
			o.Workers = f.Workers
		}
		return o, out, resume, progress, -1
	}

	// Settings not given take the defaults of the data source.
	o = f
	d := dataDefaults
	mini := f.Data == "" && f.Download == ""
	modelGiven := set["model"] || set["phi"] || set["width"] || set["depth"]
	if mini {
		d = miniDefaults
		if modelGiven {
			d.Width, d.Depth = 0, 0
		}
	}
	if !modelGiven && !mini {
		o.Model = d.Model
	}
	if !modelGiven && mini {
		o.Width, o.Depth = d.Width, d.Depth
	}
	if !set["resolution"] && (mini || o.Resolution == 0) {
		o.Resolution = d.Resolution
	}
	if !set["epochs"] {
		o.Epochs = d.Epochs
	}
	if !set["batch"] {
		o.Batch = d.Batch
	}
	if !set["optimizer"] {
		o.Optimizer = d.Optimizer
	}
	if !set["lr"] {
		o.LR = d.LR
		if o.Optimizer == "rmsprop" {
			// The paper's 0.016 per 256 images of batch.
			o.LR = 0.016 * float64(o.Batch) / 256
		}
	}
	if !set["weight-decay"] {
		o.WeightDecay = d.WeightDecay
	}
	if !set["warmup"] {
		o.Warmup = d.Warmup
	}
	if !set["smoothing"] {
		o.Smoothing = d.Smoothing
	}
	if !set["crop-scale"] {
		o.CropScale = d.CropScale
	}
	if !set["seed"] {
		o.Seed = d.Seed
	}
	if set["model"] && (set["phi"] || set["width"] || set["depth"]) {
		fmt.Fprintln(stderr, "imagenette: give either -model, or -phi (with -alpha -beta -gamma), or -width and -depth")
		return o, "", false, false, 2
	}
	if set["phi"] && (set["width"] || set["depth"]) {
		fmt.Fprintln(stderr, "imagenette: -phi sets width and depth itself; do not give -width or -depth with it")
		return o, "", false, false, 2
	}
	if (set["alpha"] || set["beta"] || set["gamma"]) && !set["phi"] {
		fmt.Fprintln(stderr, "imagenette: -alpha, -beta and -gamma need -phi")
		return o, "", false, false, 2
	}
	if (set["width"] || set["depth"]) && !(set["width"] && set["depth"]) {
		// One multiplier alone keeps the other at 1.
		if !set["width"] {
			o.Width = 1
		}
		if !set["depth"] {
			o.Depth = 1
		}
	}
	if !set["phi"] {
		o.Alpha, o.Beta, o.Gamma = 0, 0, 0
	}
	return o, out, resume, progress, -1
}

func (o options) validate() error {
	var errs []error
	if o.Data != "" && o.Download != "" {
		errs = append(errs, errors.New("give -data or -download, not both"))
	}
	if o.Download != "" && !slices.Contains(data.Archives, o.Download) {
		errs = append(errs, fmt.Errorf("-download %q: want one of %s", o.Download, strings.Join(data.Archives, ", ")))
	}
	if o.Resolution < 0 || o.Resolution > 1024 {
		errs = append(errs, fmt.Errorf("-resolution %d: want 1..1024 pixels", o.Resolution))
	}
	if o.Epochs < 1 {
		errs = append(errs, fmt.Errorf("-epochs %d: want at least 1", o.Epochs))
	}
	if o.Batch < 1 {
		errs = append(errs, fmt.Errorf("-batch %d: want at least 1", o.Batch))
	}
	if !(o.LR > 0) || math.IsInf(o.LR, 0) {
		errs = append(errs, fmt.Errorf("-lr %v: want a positive number", o.LR))
	}
	if o.Optimizer != "sgd" && o.Optimizer != "rmsprop" {
		errs = append(errs, fmt.Errorf("-optimizer %q: want sgd or rmsprop", o.Optimizer))
	}
	if !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0) {
		errs = append(errs, fmt.Errorf("-weight-decay %v: want a finite number ≥ 0", o.WeightDecay))
	}
	if !(o.Warmup >= 0) || o.Warmup > float64(o.Epochs) {
		errs = append(errs, fmt.Errorf("-warmup %v: want 0..%d epochs", o.Warmup, o.Epochs))
	}
	if !(o.Smoothing >= 0 && o.Smoothing < 1) {
		errs = append(errs, fmt.Errorf("-smoothing %v: want a value in [0, 1)", o.Smoothing))
	}
	if !(o.EMA >= 0 && o.EMA < 1) {
		errs = append(errs, fmt.Errorf("-ema %v: want a decay in [0, 1), 0 for none", o.EMA))
	}
	if !(o.CropScale > 0 && o.CropScale <= 1) {
		errs = append(errs, fmt.Errorf("-crop-scale %v: want a fraction in (0, 1]", o.CropScale))
	}
	if o.Workers < 0 {
		errs = append(errs, fmt.Errorf("-workers %d: want ≥ 0 (0 is GOMAXPROCS)", o.Workers))
	}
	return errors.Join(errs...)
}

// spec builds the architecture the options name, for the given classes.
func (o options) spec(classes int) (arch.Network, error) {
	var spec arch.Network
	var err error
	switch {
	case o.Model != "":
		spec, err = arch.Preset(o.Model)
	case o.Phi != 0:
		spec, err = arch.Compound(scaling.Coefficients{Alpha: o.Alpha, Beta: o.Beta, Gamma: o.Gamma}, o.Phi)
	default:
		spec, err = arch.Custom(o.Width, o.Depth, scaling.BaseResolution)
	}
	if err != nil {
		return spec, err
	}
	spec.Classes = classes
	if o.Resolution > 0 {
		spec.Resolution = o.Resolution
	}
	return spec, spec.Validate()
}

// datasets returns the training and validation sets and a description.
func (o options) datasets(ctx context.Context, stderr io.Writer, progress bool) (trainSet, valSet data.Dataset, desc string, err error) {
	dir := o.Data
	if o.Download != "" {
		cache := o.Cache
		if cache == "" {
			base, err := os.UserCacheDir()
			if err != nil {
				return nil, nil, "", fmt.Errorf("-download: no cache folder (%v); give -cache", err)
			}
			cache = filepath.Join(base, "effnet")
		}
		d := &data.Downloader{CacheDir: cache}
		if progress {
			d.Progress = stderr
		}
		if dir, err = d.Fetch(ctx, o.Download); err != nil {
			return nil, nil, "", err
		}
	}
	if dir == "" {
		tr, va, err := data.ImagenetteFS(data.MiniImagenette())
		return tr, va, "embedded mini-Imagenette", err
	}
	if data.HasImagenetteLayout(os.DirFS(dir)) {
		tr, va, err := data.Imagenette(dir)
		return tr, va, dir + " (Imagenette layout)", err
	}
	all, err := data.ImageFolder(dir)
	if err != nil {
		return nil, nil, "", err
	}
	tr, va := holdOut(all, 10)
	return tr, va, fmt.Sprintf("%s (image folder, every 10th image held out)", dir), nil
}

// subset is a Dataset of some of another's images.
type subset struct {
	data.Dataset
	idx []int
}

func (s subset) Len() int                                { return len(s.idx) }
func (s subset) Label(i int) int                         { return s.Dataset.Label(s.idx[i]) }
func (s subset) Load(i int) (img image.Image, err error) { return s.Dataset.Load(s.idx[i]) }

// holdOut splits ds into every k-th image (validation) and the rest.
func holdOut(ds data.Dataset, k int) (trainSet, valSet data.Dataset) {
	var tr, va []int
	for i := range ds.Len() {
		if i%k == k-1 {
			va = append(va, i)
		} else {
			tr = append(tr, i)
		}
	}
	return subset{ds, tr}, subset{ds, va}
}

// train1 runs the training the options describe.
func train1(ctx context.Context, o options, out string, resume, progress bool, stdout, stderr io.Writer) error {
	trainSet, valSet, desc, err := o.datasets(ctx, stderr, progress)
	if err != nil {
		return err
	}
	classes := len(trainSet.ClassNames())
	ckptPath := filepath.Join(out, "checkpoint.safetensors")
	var spec arch.Network
	if resume {
		if spec, err = effnet.SpecFromFile(ckptPath); err != nil {
			return fmt.Errorf("-resume: %w", err)
		}
	} else if spec, err = o.spec(classes); err != nil {
		return err
	}
	if spec.Classes != classes {
		return fmt.Errorf("the model has %d classes, the data %d", spec.Classes, classes)
	}
	res := spec.Resolution
	model, err := effnet.New[float32](spec, o.Seed)
	if err != nil {
		return err
	}
	model.SkipInputGrad = true // training needs no gradient of the images
	count, err := flops.Count(spec)
	if err != nil {
		return err
	}

	tf := data.TrainTransform(res)
	tf.Scale[0] = o.CropScale
	trainLoader, err := data.NewLoader(trainSet, tf, data.LoaderConfig{
		BatchSize: o.Batch, Workers: o.Workers, Shuffle: true, DropLast: true, Seed: o.Seed,
	})
	if err != nil {
		return err
	}
	if trainLoader.Len() == 0 {
		return fmt.Errorf("%d training images make no full batch of %d", trainSet.Len(), o.Batch)
	}
	valLoader, err := data.NewLoader(valSet, data.EvalTransform(res), data.LoaderConfig{
		BatchSize: o.Batch, Workers: o.Workers, Seed: o.Seed,
	})
	if err != nil {
		return err
	}

	var opt train.Optimizer[float32]
	if o.Optimizer == "rmsprop" {
		c := train.EfficientNetRMSProp()
		c.WeightDecay = o.WeightDecay
		opt, err = train.NewRMSProp(model.Params(), c)
	} else {
		opt, err = train.NewSGD(model.Params(), train.SGDConfig{
			Momentum: 0.9, Nesterov: true, WeightDecay: o.WeightDecay, NoDecay: train.NormAndBias,
		})
	}
	if err != nil {
		return err
	}
	steps := trainLoader.Len()
	cfg := train.Config[float32]{
		Epochs: o.Epochs, Train: trainLoader, Val: valLoader, Optimizer: opt,
		Schedule: train.WarmupCosine{
			Base: o.LR, WarmupStart: o.LR / 100,
			WarmupSteps: int(o.Warmup * float64(steps)), TotalSteps: o.Epochs * steps,
		},
		LabelSmoothing: o.Smoothing,
		Spec:           spec,
	}
	if o.EMA > 0 {
		if cfg.EMA, err = train.NewEMA(model.Params(), model.Buffers(), train.EMAConfig{Decay: o.EMA, WarmupPower: 0.75}); err != nil {
			return err
		}
		cfg.EvalEMA = true
	}
	if progress {
		cfg.Progress = stderr
	}

	fmt.Fprintf(stdout, "data: %s: %d train, %d val images, %d classes\n", desc, trainSet.Len(), valSet.Len(), classes)
	fmt.Fprintf(stdout, "model: %s, %s params, %s MACs at %d px\n", modelName(o, spec), thousands(int64(model.NumParams())), thousands(count.MACs), res)
	fmt.Fprintf(stdout, "training: %d epochs of %d steps, batch %d, %s lr %g, warmup %g epochs, cosine decay, label smoothing %g, weight decay %g\n",
		o.Epochs, steps, o.Batch, o.Optimizer, o.LR, o.Warmup, o.Smoothing, o.WeightDecay)

	var metrics *os.File
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		cfg.CheckpointPath = ckptPath
		flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
		if resume {
			flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
		} else {
			js, err := json.MarshalIndent(o, "", "  ")
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(out, "run.json"), append(js, '\n'), 0o644); err != nil {
				return err
			}
		}
		if metrics, err = os.OpenFile(filepath.Join(out, "metrics.jsonl"), flags, 0o644); err != nil {
			return err
		}
		defer metrics.Close()
		cfg.Metrics = metrics
	}
	best := -1.0
	cfg.OnEpoch = func(m train.EpochMetrics) error {
		fmt.Fprintf(stdout, "epoch %2d/%d  train loss %.3f acc %5.1f%%  val loss %.3f top-1 %5.1f%% top-5 %5.1f%%  lr %.4f  %.0f img/s  %.1f s\n",
			m.Epoch, o.Epochs, m.TrainLoss, 100*m.TrainTop1, m.ValLoss, 100*m.ValTop1, 100*m.ValTop5, m.LR, m.ImagesPerS, m.Seconds)
		if out == "" {
			return nil
		}
		if m.ValTop1 > best {
			best = m.ValTop1
			if err := saveWeights(model, cfg.EMA, filepath.Join(out, "best.safetensors")); err != nil {
				return err
			}
		}
		return nil
	}

	tr, err := train.New[float32](model, cfg)
	if err != nil {
		return err
	}
	if resume {
		if err := tr.LoadCheckpoint(ckptPath); err != nil {
			return err
		}
		for _, m := range tr.History() {
			best = max(best, m.ValTop1)
		}
		fmt.Fprintf(stdout, "resumed from %s after epoch %d (step %d)\n", ckptPath, tr.Epoch(), tr.Step())
	}
	start := time.Now()
	hist, runErr := tr.Run(ctx)
	if out != "" && len(hist) > 0 {
		if err := plotCurves(hist, filepath.Join(out, "curves.png")); err != nil {
			return err
		}
		if runErr == nil {
			if err := saveWeights(model, cfg.EMA, filepath.Join(out, "final.safetensors")); err != nil {
				return err
			}
		}
	}
	if runErr != nil {
		return runErr
	}
	summary(stdout, modelName(o, spec), model.NumParams(), count.MACs, res, hist, tr.Epoch()-len(hist), time.Since(start))
	return nil
}

// saveWeights writes the weights that were evaluated: the EMA's if there is
// one, else the model's.
func saveWeights(m *effnet.Model[float32], ema *train.EMA[float32], path string) error {
	if ema != nil {
		if err := ema.Apply(); err != nil {
			return err
		}
		defer ema.Restore()
	}
	return m.Save(path)
}

func modelName(o options, spec arch.Network) string {
	switch {
	case o.Model != "":
		return spec.Name
	case o.Phi != 0:
		return fmt.Sprintf("compound φ=%g (α=%g β=%g γ=%g)", o.Phi, o.Alpha, o.Beta, o.Gamma)
	}
	return fmt.Sprintf("custom width %g depth %g", o.Width, o.Depth)
}

// summary prints the closing report. Throughput and epoch time are means
// over the epochs this process ran (hist[resumed:]).
func summary(w io.Writer, name string, params int, macs int64, res int, hist []train.EpochMetrics, resumed int, wall time.Duration) {
	best, final := 0.0, hist[len(hist)-1].ValTop1
	for _, m := range hist {
		best = max(best, m.ValTop1)
	}
	var ips, secs float64
	ran := hist[min(resumed, len(hist)):]
	for _, m := range ran {
		ips += m.ImagesPerS
		secs += m.Seconds
	}
	if n := float64(len(ran)); n > 0 {
		ips, secs = ips/n, secs/n
	}
	fmt.Fprintln(w, "summary:")
	fmt.Fprintf(w, "  model            %s\n", name)
	fmt.Fprintf(w, "  params           %s\n", thousands(int64(params)))
	fmt.Fprintf(w, "  MACs             %s per image\n", thousands(macs))
	fmt.Fprintf(w, "  resolution       %d px\n", res)
	fmt.Fprintf(w, "  epochs           %d\n", len(hist))
	fmt.Fprintf(w, "  best top-1       %.1f %%\n", 100*best)
	fmt.Fprintf(w, "  final top-1      %.1f %%\n", 100*final)
	fmt.Fprintf(w, "  train images/s   %.1f\n", ips)
	fmt.Fprintf(w, "  seconds/epoch    %.1f\n", secs)
	fmt.Fprintf(w, "  wall time        %.1f s\n", wall.Seconds())
}

// thousands formats n with comma separators.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
