package train_test

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet"
	"github.com/effnet-go/effnet/arch"
	"github.com/effnet-go/effnet/data"
	"github.com/effnet-go/effnet/layers"
	"github.com/effnet-go/effnet/train"
)

// squares is a synthetic dataset that a tiny network learns in a few
// epochs: class c is a bright square in quadrant c of a noisy 20×20 image,
// coloured by class too. Every image is a function of (seed, index).
type squares struct {
	imgs   []*image.RGBA
	labels []int
}

const squaresClasses = 4

func newSquares(n int, seed uint64) *squares {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &squares{}
	for i := range n {
		c := i % squaresClasses
		img := image.NewRGBA(image.Rect(0, 0, 20, 20))
		for y := range 20 {
			for x := range 20 {
				v := uint8(rng.IntN(90))
				img.SetRGBA(x, y, color.RGBA{v, v, v, 255})
			}
		}
		x0, y0 := 10*(c%2)+rng.IntN(3), 10*(c/2)+rng.IntN(3)
		for y := y0; y < y0+7; y++ {
			for x := x0; x < x0+7; x++ {
				img.SetRGBA(x, y, color.RGBA{uint8(120 + 40*c), 220, uint8(250 - 40*c), 255})
			}
		}
		s.imgs = append(s.imgs, img)
		s.labels = append(s.labels, c)
	}
	return s
}

func (s *squares) Len() int                        { return len(s.imgs) }
func (s *squares) Label(i int) int                 { return s.labels[i] }
func (s *squares) Load(i int) (image.Image, error) { return s.imgs[i], nil }
func (s *squares) ClassNames() []string            { return []string{"tl", "tr", "bl", "br"} }

// tinySpec is an EfficientNet small enough to train in well under a second
// per epoch, with residual blocks at non-zero drop-path rates and dropout,
// so that checkpoints must carry the random state.
func tinySpec() arch.Network {
	s := arch.Baseline()
	s.Name = "tiny"
	s.Stem, s.Head, s.Classes, s.Resolution = 8, 32, squaresClasses, 16
	s.Stages = []arch.Stage{
		{Kind: arch.DepthwiseSeparable, Repeats: 1, Kernel: 3, Stride: 1, Expand: 1, Out: 8, SERatio: 0.25},
		{Kind: arch.MBConv, Repeats: 2, Kernel: 3, Stride: 2, Expand: 3, Out: 16, SERatio: 0.25},
		{Kind: arch.MBConv, Repeats: 2, Kernel: 5, Stride: 2, Expand: 3, Out: 24, SERatio: 0.25},
	}
	s.Dropout, s.DropPathRate = 0.3, 0.3
	return s
}

// setup is one complete training configuration over the tiny model; each
// call builds fresh objects, as a new process resuming a run would.
type setup struct {
	model *effnet.Model[float32]
	cfg   train.Config[float32]
}

type setupOptions struct {
	seed      uint64
	epochs    int
	ema       bool
	rmsprop   bool
	lr        float64
	trainSize int
}

func newSetup(t *testing.T, o setupOptions) *setup {
	t.Helper()
	if o.trainSize == 0 {
		o.trainSize = 48
	}
	if o.lr == 0 {
		o.lr = 0.05
	}
	m, err := effnet.New[float32](tinySpec(), o.seed)
	require.NoError(t, err)
	trainLoader, err := data.NewLoader(newSquares(o.trainSize, 7), &data.RandomResizedCrop{
		Size: 16, Scale: [2]float64{0.6, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3}, FlipP: 0.5,
		Interp: data.Bilinear, Mean: data.ImageNetMean[:], Std: data.ImageNetStd[:],
	}, data.LoaderConfig{BatchSize: 8, Shuffle: true, Seed: 11, DropLast: true})
	require.NoError(t, err)
	valLoader, err := data.NewLoader(newSquares(24, 8), &data.CenterCrop{
		Size: 16, CropPct: 1, Interp: data.Bilinear, Mean: data.ImageNetMean[:], Std: data.ImageNetStd[:],
	}, data.LoaderConfig{BatchSize: 10})
	require.NoError(t, err)
	var opt train.Optimizer[float32]
	if o.rmsprop {
		opt, err = train.NewRMSProp(m.Params(), train.RMSPropConfig{Decay: 0.9, Momentum: 0.9, Epsilon: 1e-3, WeightDecay: 1e-4, NoDecay: train.NormAndBias})
	} else {
		opt, err = train.NewSGD(m.Params(), train.SGDConfig{Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4})
	}
	require.NoError(t, err)
	cfg := train.Config[float32]{
		Epochs: o.epochs, Train: trainLoader, Val: valLoader, Optimizer: opt,
		Schedule:       train.WarmupCosine{Base: o.lr, WarmupSteps: 3, TotalSteps: o.epochs * trainLoader.Len()},
		LabelSmoothing: 0.1, Spec: tinySpec(),
	}
	if o.ema {
		cfg.EMA, err = train.NewEMA(m.Params(), m.Buffers(), train.EMAConfig{Decay: 0.9, WarmupPower: 0.75})
		require.NoError(t, err)
		cfg.EvalEMA = true
	}
	return &setup{model: m, cfg: cfg}
}

func (s *setup) trainer(t *testing.T) *train.Trainer[float32] {
	t.Helper()
	tr, err := train.New[float32](s.model, s.cfg)
	require.NoError(t, err)
	return tr
}

// state returns every number a run's future depends on, by name: the
// model's parameters and buffers, the optimiser's and the EMA's state.
func (s *setup) state() map[string][]float32 {
	out := map[string][]float32{}
	for _, p := range s.model.Params() {
		out["model/"+p.Name] = append([]float32(nil), p.Value.Data...)
	}
	add := func(prefix string, bs []*layers.Buffer[float32]) {
		for _, b := range bs {
			out[prefix+b.Name] = append([]float32(nil), b.Value.Data...)
		}
	}
	add("model/", s.model.Buffers())
	add("optimizer/", s.cfg.Optimizer.State())
	if s.cfg.EMA != nil {
		add("ema/", s.cfg.EMA.State())
	}
	return out
}

// requireBitIdentical fails unless a and b hold the same bits for every
// name (NaN payloads included, which == would not compare).
func requireBitIdentical(t *testing.T, a, b map[string][]float32) {
	t.Helper()
	require.Equal(t, len(a), len(b))
	for name, av := range a {
		bv, ok := b[name]
		require.True(t, ok, name)
		require.Equal(t, len(av), len(bv), name)
		for i := range av {
			if math.Float32bits(av[i]) != math.Float32bits(bv[i]) {
				t.Fatalf("%s[%d]: %v vs %v", name, i, av[i], bv[i])
			}
		}
	}
}
