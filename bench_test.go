package effnet

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/layers"
	"github.com/effnet-go/effnet/train"
)

// trainStep is one step of a training loop on a fixed batch: ZeroGrad,
// Forward, cross-entropy, Backward and an SGD update, what
// examples/bench times.
type trainStep struct {
	m      *Model[float32]
	opt    *train.SGD[float32]
	loss   *layers.CrossEntropy[float32]
	x      *tensor.Tensor[float32]
	labels []int
}

func newTrainStep(tb testing.TB, preset string, classes, res, batch int) *trainStep {
	tb.Helper()
	m, err := NewPreset[float32](preset, classes, 1)
	require.NoError(tb, err)
	m.SkipInputGrad = true
	opt, err := train.NewSGD(m.Params(), train.SGDConfig{Momentum: 0.9})
	require.NoError(tb, err)
	rng := rand.New(rand.NewPCG(1, 2))
	s := &trainStep{m: m, opt: opt, loss: layers.NewCrossEntropy[float32](0),
		x: tensor.New[float32](batch, res, res, 3), labels: make([]int, batch)}
	for i := range s.x.Data {
		s.x.Data[i] = float32(rng.NormFloat64())
	}
	for i := range s.labels {
		s.labels[i] = rng.IntN(classes)
	}
	return s
}

func (s *trainStep) run() error {
	s.opt.ZeroGrad()
	logits, err := s.m.Forward(s.x, layers.Train)
	if err != nil {
		return err
	}
	if _, err := s.loss.Forward(logits, s.labels); err != nil {
		return err
	}
	if _, err := s.m.Backward(s.loss.Backward()); err != nil {
		return err
	}
	return s.opt.Step(0.01)
}

// BenchmarkTrainStep times a B0 training step and reports its heap
// allocations (allocs/op) in steady state: the first step, which sizes
// every buffer, runs before the timer. "64px_b4" is small enough for
// quick allocation checks; "128px_b32" is the speed issue's training
// configuration, for profiling:
//
//	go test -run '^$' -bench 'TrainStep/128px' -benchtime 5x -cpuprofile cpu.prof .
func BenchmarkTrainStep(b *testing.B) {
	for _, c := range []struct{ res, batch int }{{64, 4}, {128, 32}} {
		b.Run(fmt.Sprintf("%dpx_b%d", c.res, c.batch), func(b *testing.B) {
			s := newTrainStep(b, "b0", 1000, c.res, c.batch)
			require.NoError(b, s.run())
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := s.run(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.batch*b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

// BenchmarkEval times B0 inference at the speed issue's 224 px, batch 8.
func BenchmarkEval(b *testing.B) {
	s := newTrainStep(b, "b0", 1000, 224, 8)
	_, err := s.m.Forward(s.x, layers.Eval)
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := s.m.Forward(s.x, layers.Eval); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(8*b.N)/b.Elapsed().Seconds(), "img/s")
}

// TestStepsDoNotAllocate pins the speed issue's zero-allocation target on a
// small B0 (64 px, batch 4): after a first step has sized every buffer,
// neither a training step nor an Eval forward touches the heap.
func TestStepsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector adds its own allocations")
	}
	s := newTrainStep(t, "b0", 10, 64, 4)
	require.NoError(t, s.run())
	_, err := s.m.Forward(s.x, layers.Eval)
	require.NoError(t, err)
	require.Zero(t, testing.AllocsPerRun(2, func() { require.NoError(t, s.run()) }), "training step")
	require.Zero(t, testing.AllocsPerRun(2, func() {
		_, err := s.m.Forward(s.x, layers.Eval)
		require.NoError(t, err)
	}), "eval forward")
}
