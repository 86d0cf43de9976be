// Command fashionmnist proves that effnet trains: a scaled-down
// EfficientNet (one input channel, 28×28, six MBConv stages of a few dozen
// channels) learns Fashion-MNIST to over 90 % test accuracy on the CPU.
//
//	go run ./examples/fashionmnist                       # full run: 60,000 train, 10,000 test images
//	go run ./examples/fashionmnist -train 6000 -epochs 1 # a quick check
//
// The data are the IDX files of Debian's dataset-fashion-mnist package
// (/usr/share/datasets/fashion-mnist; apt-get install dataset-fashion-mnist)
// or any folder given with -data. Training is SGD with Nesterov momentum, a
// short warmup and a cosine decay, label smoothing 0.1, and light
// augmentation (random crops of at least 80 % of the area, mirror images).
// The last line printed is the result as JSON.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/effnet-go/effnet"
	"github.com/effnet-go/effnet/arch"
	"github.com/effnet-go/effnet/data"
	"github.com/effnet-go/effnet/flops"
	"github.com/effnet-go/effnet/train"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Fashion-MNIST's pixel statistics on 0..1 (train set mean and standard
// deviation), the usual normalisation for it.
var (
	fashionMean = []float32{0.2860}
	fashionStd  = []float32{0.3530}
)

// Spec is the network: EfficientNet's building blocks and rules (MBConv
// with SE, SiLU, BN, stochastic depth) at a size that fits 28×28 grayscale
// images. The stride-2 stem takes the image to 14×14, two stages stay
// there and two halve it again, so the head sees 4×4.
func Spec() arch.Network {
	s := arch.Baseline()
	s.Name = "effnet_fashion"
	s.InChannels = 1
	s.Resolution = 28
	s.Classes = 10
	s.Stem = 16
	s.Stages = []arch.Stage{
		{Kind: arch.DepthwiseSeparable, Repeats: 1, Kernel: 3, Stride: 1, Expand: 1, Out: 16, SERatio: 0.25},
		{Kind: arch.MBConv, Repeats: 2, Kernel: 3, Stride: 1, Expand: 4, Out: 24, SERatio: 0.25},
		{Kind: arch.MBConv, Repeats: 2, Kernel: 5, Stride: 2, Expand: 4, Out: 40, SERatio: 0.25},
		{Kind: arch.MBConv, Repeats: 2, Kernel: 3, Stride: 2, Expand: 4, Out: 80, SERatio: 0.25},
	}
	s.Head = 256
	s.Dropout = 0.1
	s.DropPathRate = 0.1
	return s
}

// Result is the JSON summary the command prints last.
type Result struct {
	TrainImages int     `json:"train_images"`
	TestImages  int     `json:"test_images"`
	Epochs      int     `json:"epochs"`
	Params      int     `json:"params"`
	MACs        int64   `json:"macs"`
	TestTop1    float64 `json:"test_top1"`
	BestTop1    float64 `json:"best_top1"`
	ImagesPerS  float64 `json:"images_per_s"`
	Seconds     float64 `json:"seconds"`
}

type options struct {
	dir            string
	epochs, batch  int
	trainN, testN  int
	lr             float64
	workers        int
	seed           uint64
	progress       bool
	metricsPath    string
	checkpointPath string
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fashionmnist", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.dir, "data", data.FashionMNISTDir, "folder of the Fashion-MNIST IDX files (gzipped or not)")
	fs.IntVar(&o.epochs, "epochs", 5, "epochs")
	fs.IntVar(&o.batch, "batch", 64, "batch size")
	fs.IntVar(&o.trainN, "train", 0, "use the first N training images (0: all 60,000)")
	fs.IntVar(&o.testN, "test", 0, "evaluate on the first N test images (0: all 10,000)")
	fs.Float64Var(&o.lr, "lr", 0.1, "peak learning rate")
	fs.IntVar(&o.workers, "workers", 0, "data goroutines (0: GOMAXPROCS)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of weights, order and augmentation")
	fs.BoolVar(&o.progress, "progress", true, "draw a progress bar on stderr")
	fs.StringVar(&o.metricsPath, "metrics", "", "append the JSON-lines metrics log to this file")
	fs.StringVar(&o.checkpointPath, "checkpoint", "", "write the training checkpoint here after every epoch")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fashionmnist: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if o.epochs < 1 || o.batch < 1 || o.trainN < 0 || o.testN < 0 || !(o.lr > 0) || o.workers < 0 {
		fmt.Fprintln(stderr, "fashionmnist: -epochs, -batch and -lr must be positive, -train, -test and -workers not negative")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := fit(ctx, o, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "fashionmnist: %v\n", err)
		return 1
	}
	js, _ := json.Marshal(res)
	fmt.Fprintln(stdout, string(js))
	return 0
}

// first is the first n images of a dataset.
type first struct {
	data.Dataset
	n int
}

func (f first) Len() int { return f.n }

func limit(ds data.Dataset, n int) data.Dataset {
	if n == 0 || n >= ds.Len() {
		return ds
	}
	return first{ds, n}
}

func (f first) Load(i int) (image.Image, error) { return f.Dataset.Load(i) }

func fit(ctx context.Context, o options, stdout, stderr io.Writer) (Result, error) {
	trainAll, err := data.MNISTStyle(o.dir, true, data.FashionMNISTClasses)
	if err != nil {
		return Result{}, err
	}
	testAll, err := data.MNISTStyle(o.dir, false, data.FashionMNISTClasses)
	if err != nil {
		return Result{}, err
	}
	trainSet, testSet := limit(trainAll, o.trainN), limit(testAll, o.testN)

	spec := Spec()
	model, err := effnet.New[float32](spec, o.seed)
	if err != nil {
		return Result{}, err
	}
	model.SkipInputGrad = true // training needs no gradient of the images
	count, err := flops.Count(spec)
	if err != nil {
		return Result{}, err
	}
	aug := &data.RandomResizedCrop{
		Size: 28, Scale: [2]float64{0.8, 1}, Ratio: [2]float64{0.9, 1.1}, FlipP: 0.5,
		Interp: data.Bilinear, Mean: fashionMean, Std: fashionStd,
	}
	// CropPct 1 keeps the whole 28×28 image: evaluation sees what the
	// network would see in use.
	plain := &data.CenterCrop{Size: 28, CropPct: 1, Interp: data.Bilinear, Mean: fashionMean, Std: fashionStd}
	trainLoader, err := data.NewLoader(trainSet, aug, data.LoaderConfig{
		BatchSize: o.batch, Workers: o.workers, Shuffle: true, DropLast: true, Seed: o.seed,
	})
	if err != nil {
		return Result{}, err
	}
	if trainLoader.Len() == 0 {
		return Result{}, fmt.Errorf("%d training images make no full batch of %d", trainSet.Len(), o.batch)
	}
	testLoader, err := data.NewLoader(testSet, plain, data.LoaderConfig{BatchSize: 250, Workers: o.workers})
	if err != nil {
		return Result{}, err
	}
	opt, err := train.NewSGD(model.Params(), train.SGDConfig{Momentum: 0.9, Nesterov: true, WeightDecay: 5e-5, NoDecay: train.NormAndBias})
	if err != nil {
		return Result{}, err
	}
	steps := trainLoader.Len()
	cfg := train.Config[float32]{
		Epochs: o.epochs, Train: trainLoader, Val: testLoader, Optimizer: opt,
		Schedule:       train.WarmupCosine{Base: o.lr, WarmupStart: o.lr / 10, WarmupSteps: min(steps, 200), TotalSteps: o.epochs * steps},
		LabelSmoothing: 0.1,
		Spec:           spec,
		CheckpointPath: o.checkpointPath,
		OnEpoch: func(m train.EpochMetrics) error {
			fmt.Fprintf(stdout, "epoch %d/%d  train loss %.3f acc %5.2f%%  test loss %.3f acc %5.2f%%  %.0f img/s  %.1f s\n",
				m.Epoch, o.epochs, m.TrainLoss, 100*m.TrainTop1, m.ValLoss, 100*m.ValTop1, m.ImagesPerS, m.Seconds)
			return nil
		},
	}
	if o.progress {
		cfg.Progress = stderr
	}
	if o.metricsPath != "" {
		f, err := os.OpenFile(o.metricsPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return Result{}, err
		}
		defer f.Close()
		cfg.Metrics = f
	}
	fmt.Fprintf(stdout, "Fashion-MNIST: %d train, %d test images; %s: %d params, %d MACs per image\n",
		trainSet.Len(), testSet.Len(), spec.Name, model.NumParams(), count.MACs)
	tr, err := train.New[float32](model, cfg)
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	hist, err := tr.Run(ctx)
	if err != nil {
		return Result{}, err
	}
	r := Result{
		TrainImages: trainSet.Len(), TestImages: testSet.Len(), Epochs: len(hist),
		Params: model.NumParams(), MACs: count.MACs, TestTop1: hist[len(hist)-1].ValTop1,
		Seconds: time.Since(start).Seconds(),
	}
	for _, m := range hist {
		r.BestTop1 = max(r.BestTop1, m.ValTop1)
		r.ImagesPerS += m.ImagesPerS / float64(len(hist))
	}
	return r, nil
}
