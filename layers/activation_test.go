package layers

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/tensor"
)

// ncRandn returns a tensor of N(0, scale²) values from a fixed seed.
func ncRandn(seed uint64, scale float64, shape ...int) *tensor.Tensor[float64] {
	r := rand.New(rand.NewPCG(seed, 1))
	x := tensor.New[float64](shape...)
	for i := range x.Data {
		x.Data[i] = scale * r.NormFloat64()
	}
	return x
}

// ncFillParams gives every parameter of l N(0, 0.5²) values, since layers
// start at zero and a zero weight hides half of a gradient formula.
func ncFillParams(l Layer[float64], seed uint64) {
	r := rand.New(rand.NewPCG(seed, 2))
	for _, p := range l.Params() {
		for i := range p.Value.Data {
			p.Value.Data[i] = 0.5 * r.NormFloat64()
		}
	}
}

// refTol is the tolerance against the PyTorch float64 fixtures. Both sides
// compute the same float64 formulas and differ only in summation order and
// libm's exp, each worth ~1e-16 relative per operation over at most a few
// hundred terms, so anything above ~1e-13 would be a real difference;
// 1e-10 is loose enough never to flake and tight enough that a wrong term,
// layout or scale (errors ≥ 1e-3) cannot pass.
const refTol = 1e-10

func TestActivationGradients(t *testing.T) {
	for _, kind := range []Activation{Identity, ReLU, ReLU6, Sigmoid, SiLU} {
		t.Run(kind.String(), func(t *testing.T) {
			// Scale 4 puts values on both sides of ReLU6's kink at 6; with
			// 120 normal draws none lies within eps = 1e-6 of a kink, where
			// the finite difference would straddle it.
			x := ncRandn(3, 4, 2, 3, 4, 5)
			checkLayerGrads(t, NewActivation[float64](kind), x, Train)
		})
	}
}

func TestActivationValues(t *testing.T) {
	x, err := tensor.FromData([]float64{-7, -1, 0, 0.5, 3, 6.5}, 6)
	require.NoError(t, err)
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	want := map[Activation][]float64{
		Identity: {-7, -1, 0, 0.5, 3, 6.5},
		ReLU:     {0, 0, 0, 0.5, 3, 6.5},
		ReLU6:    {0, 0, 0, 0.5, 3, 6},
		Sigmoid:  {sig(-7), sig(-1), 0.5, sig(0.5), sig(3), sig(6.5)},
		SiLU:     {-7 * sig(-7), -sig(-1), 0, 0.5 * sig(0.5), 3 * sig(3), 6.5 * sig(6.5)},
	}
	for kind, w := range want {
		for _, mode := range []Mode{Eval, Train} {
			y, err := NewActivation[float64](kind).Forward(x, mode)
			require.NoError(t, err)
			// The same float64 expressions: only the last bit may differ.
			assert.InDeltaSlice(t, w, y.Data, 1e-15, "%v %v", kind, mode)
		}
	}
}

// Large |x| must not give NaN or Inf anywhere: exp overflows at 709 in
// float64 and SiLU's backward multiplies x by 1-σ(x).
func TestActivationExtremeInputs(t *testing.T) {
	in := []float64{-1e4, -800, -100, 100, 800, 1e4}
	for _, kind := range []Activation{Sigmoid, SiLU} {
		l := NewActivation[float32](kind)
		x := &tensor.Tensor[float32]{Shape: []int{len(in)}, Data: make([]float32, len(in))}
		for i, v := range in {
			x.Data[i] = float32(v)
		}
		y, err := l.Forward(x, Train)
		require.NoError(t, err)
		dy := &tensor.Tensor[float32]{Shape: []int{len(in)}, Data: []float32{1, 1, 1, 1, 1, 1}}
		dx, err := l.Backward(dy)
		require.NoError(t, err)
		for i := range in {
			assert.False(t, math.IsNaN(float64(y.Data[i])) || math.IsInf(float64(y.Data[i]), 0), "%v(%g) = %g", kind, in[i], y.Data[i])
			assert.False(t, math.IsNaN(float64(dx.Data[i])) || math.IsInf(float64(dx.Data[i]), 0), "%v'(%g) = %g", kind, in[i], dx.Data[i])
		}
		if kind == SiLU {
			// SiLU(x) → 0 for x → -∞ and → x for x → +∞, with slopes 0
			// and 1. At |x| ≥ 100 e^-|x| < 4e-44 is below float32's
			// precision relative to these values, so the limits hold to
			// 1e-30 absolute (smaller than any value a bug would give).
			for i, v := range in {
				wantY, wantDX := 0.0, 0.0
				if v > 0 {
					wantY, wantDX = v, 1
				}
				assert.InDelta(t, wantY, float64(y.Data[i]), 1e-30, "SiLU(%g)", v)
				assert.InDelta(t, wantDX, float64(dx.Data[i]), 1e-30, "SiLU'(%g)", v)
			}
		}
	}
}

func TestActivationMatchesPyTorch(t *testing.T) {
	x := refNHWC(t, "silu.input")
	l := NewActivation[float64](SiLU)
	y, err := l.Forward(x, Train)
	require.NoError(t, err)
	requireClose(t, "silu output", refNHWC(t, "silu.output").Data, y.Data, refTol)
	dx, err := l.Backward(refNHWC(t, "silu.grad_output"))
	require.NoError(t, err)
	requireClose(t, "silu grad_input", refNHWC(t, "silu.grad_input").Data, dx.Data, refTol)
}

func TestActivationErrors(t *testing.T) {
	l := NewActivation[float64](SiLU)
	_, err := l.Backward(tensor.New[float64](2, 3))
	require.ErrorContains(t, err, "SiLU: Backward called without a preceding Forward in Train mode")

	_, err = l.Forward(tensor.New[float64](2, 3), Eval)
	require.NoError(t, err)
	_, err = l.Backward(tensor.New[float64](2, 3))
	require.Error(t, err, "an Eval Forward saves nothing to differentiate")

	_, err = l.Forward(tensor.New[float64](2, 3), Train)
	require.NoError(t, err)
	_, err = l.Backward(tensor.New[float64](3, 2))
	var se *ShapeError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "SiLU: gradient has shape [3 2], want [2 3]", err.Error())

	assert.Panics(t, func() { NewActivation[float64](Activation(42)) })
	assert.Equal(t, "Activation(42)", Activation(42).String())
}

// allocsAfterWarmup measures allocations of a Forward+Backward pair once
// the layer's buffers exist.
func allocsAfterWarmup[T Float](t *testing.T, l Layer[T], x, dy *Tensor[T]) float64 {
	t.Helper()
	step := func() {
		_, err := l.Forward(x, Train)
		require.NoError(t, err)
		_, err = l.Backward(dy)
		require.NoError(t, err)
	}
	step()
	return testing.AllocsPerRun(20, step)
}

func TestActivationAllocations(t *testing.T) {
	// 8·8·8·32 = 16384 elements is one ewGrain: the loop runs on the
	// calling goroutine and must not allocate at all.
	x := tensor.New[float32](8, 8, 8, 32)
	assert.Zero(t, allocsAfterWarmup(t, NewActivation[float32](SiLU), x, x.Clone()))
}

// BenchmarkSiLU runs float32 SiLU Forward+Backward on an EfficientNet-B0
// stage-2 expanded map (batch 8, 56×56, 144 channels: 3.6M elements).
func BenchmarkSiLU(b *testing.B) {
	l := NewActivation[float32](SiLU)
	x := tensor.New[float32](8, 56, 56, 144)
	for i := range x.Data {
		x.Data[i] = float32(i%17)/4 - 2
	}
	dy := x.Clone()
	b.SetBytes(int64(4 * x.Len()))
	for b.Loop() {
		if _, err := l.Forward(x, Train); err != nil {
			b.Fatal(err)
		}
		if _, err := l.Backward(dy); err != nil {
			b.Fatal(err)
		}
	}
}

// TestActivationGradInPlace checks that with GradInPlace set Backward
// returns dy itself, overwritten with exactly the gradient the layer
// computes into its own buffer otherwise (the same arithmetic on the same
// values, hence bit-identical).
func TestActivationGradInPlace(t *testing.T) {
	for _, kind := range []Activation{Identity, ReLU, ReLU6, Sigmoid, SiLU} {
		x := tensor.New[float32](2, 3, 5, 40)
		dy := tensor.New[float32](2, 3, 5, 40)
		for i := range x.Data {
			x.Data[i] = float32(i%29)/3 - 4
			dy.Data[i] = float32(i%13)/6 - 1
		}
		ref := NewActivation[float32](kind)
		_, err := ref.Forward(x, Train)
		require.NoError(t, err)
		want, err := ref.Backward(dy)
		require.NoError(t, err)

		l := NewActivation[float32](kind)
		l.GradInPlace = true
		_, err = l.Forward(x, Train)
		require.NoError(t, err)
		scratch := dy.Clone()
		got, err := l.Backward(scratch)
		require.NoError(t, err)
		assert.Same(t, scratch, got, "%v returns dy", kind)
		assert.Equal(t, want.Data, got.Data, "%v", kind)
	}
}
