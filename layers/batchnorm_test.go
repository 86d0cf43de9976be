package layers

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/gradcheck"
	"github.com/effnet-go/effnet/internal/tensor"
)

// newTestBN returns a float64 BatchNorm2D with random affine parameters and
// running statistics, so that no term of the formulas is a no-op.
func newTestBN(t testing.TB, c int, seed uint64) *BatchNorm2D[float64] {
	t.Helper()
	bn, err := NewBatchNorm2D[float64](c, DefaultBNEps, DefaultBNMomentum)
	require.NoError(t, err)
	r := gradcheck.Weights(4*c, seed)
	for j := range c {
		bn.Weight.Value.Data[j] = 1 + 0.3*r[j]
		bn.Bias.Value.Data[j] = 0.1 * r[c+j]
		bn.RunningMean.Value.Data[j] = 0.1 * r[2*c+j]
		bn.RunningVar.Value.Data[j] = 1 + 0.2*r[3*c+j]*r[3*c+j]
	}
	return bn
}

// float32BN returns a float32 BatchNorm2D with b's parameters, running
// statistics, eps, momentum and activation, rounded to float32.
func float32BN(t *testing.T, b *BatchNorm2D[float64]) *BatchNorm2D[float32] {
	t.Helper()
	b32, err := NewBatchNorm2D[float32](b.channels, b.Eps, b.Momentum)
	require.NoError(t, err)
	b32.Act = b.Act
	b32.Weight.Value = tensor.Convert[float32](b.Weight.Value)
	b32.Bias.Value = tensor.Convert[float32](b.Bias.Value)
	b32.RunningMean.Value = tensor.Convert[float32](b.RunningMean.Value)
	b32.RunningVar.Value = tensor.Convert[float32](b.RunningVar.Value)
	return b32
}

func TestBatchNormInit(t *testing.T) {
	bn, err := NewBatchNorm2D[float32](3, DefaultBNEps, DefaultBNMomentum)
	require.NoError(t, err)
	assert.Equal(t, []float32{1, 1, 1}, bn.Weight.Value.Data)
	assert.Equal(t, []float32{0, 0, 0}, bn.Bias.Value.Data)
	require.Len(t, bn.Buffers(), 2)
	assert.Equal(t, "running_mean", bn.Buffers()[0].Name)
	assert.Equal(t, []float32{0, 0, 0}, bn.Buffers()[0].Value.Data)
	assert.Equal(t, "running_var", bn.Buffers()[1].Name)
	assert.Equal(t, []float32{1, 1, 1}, bn.Buffers()[1].Value.Data)
	assert.Equal(t, []string{"weight", "bias"}, []string{bn.Params()[0].Name, bn.Params()[1].Name})
}

func TestBatchNormGradients(t *testing.T) {
	for i, shape := range [][]int{{2, 3, 4, 5}, {3, 1, 2, 9}, {6, 5}, {2, 3}} {
		bn := newTestBN(t, shape[len(shape)-1], uint64(i))
		x := convRand(uint64(10+i), shape...)
		// A channel mean far from zero exercises the shifted one-pass
		// variance.
		for j := 0; j < x.Len(); j += shape[len(shape)-1] {
			x.Data[j] += 5
		}
		checkLayerGrads(t, bn, x, Train)
	}
}

// TestBatchNormReference compares with PyTorch float64 (train mode, then
// eval with the updated running statistics). Both sides compute in float64;
// they differ in summation order and in how the variance is accumulated,
// which moves O(1) values by ~1e-15 relative over 100 values per channel.
// 1e-10 leaves ample room for that while a wrong formula (biased vs unbiased
// variance alone is a 1% change) fails by orders of magnitude.
func TestBatchNormReference(t *testing.T) {
	const tol = 1e-10
	bn, err := NewBatchNorm2D[float64](16, DefaultBNEps, DefaultBNMomentum)
	require.NoError(t, err)
	bn.Weight.Value.CopyFrom(ref(t, "bn2d.weight"))
	bn.Bias.Value.CopyFrom(ref(t, "bn2d.bias"))
	bn.RunningMean.Value.CopyFrom(ref(t, "bn2d.running_mean_before"))
	bn.RunningVar.Value.CopyFrom(ref(t, "bn2d.running_var_before"))

	x := refNHWC(t, "bn2d.input")
	y, err := bn.Forward(x, Train)
	require.NoError(t, err)
	requireClose(t, "output", refNHWC(t, "bn2d.output").Data, y.Data, tol)
	requireClose(t, "running_mean", ref(t, "bn2d.running_mean_after").Data, bn.RunningMean.Value.Data, tol)
	requireClose(t, "running_var", ref(t, "bn2d.running_var_after").Data, bn.RunningVar.Value.Data, tol)

	dx, err := bn.Backward(refNHWC(t, "bn2d.grad_output"))
	require.NoError(t, err)
	requireClose(t, "grad_input", refNHWC(t, "bn2d.grad_input").Data, dx.Data, tol)
	requireClose(t, "grad_weight", ref(t, "bn2d.grad_weight").Data, bn.Weight.Grad.Data, tol)
	requireClose(t, "grad_bias", ref(t, "bn2d.grad_bias").Data, bn.Bias.Grad.Data, tol)

	rm := append([]float64(nil), bn.RunningMean.Value.Data...)
	y, err = bn.Forward(x, Eval)
	require.NoError(t, err)
	requireClose(t, "eval output", refNHWC(t, "bn2d_eval.output").Data, y.Data, tol)
	assert.Equal(t, rm, bn.RunningMean.Value.Data, "Eval must not touch the running statistics")
}

// TestBatchNormFloat32 checks float32 against float64 on a batch whose
// channels have means up to 50 times their spread. float32 rounding of the
// input itself is 50·6e-8 = 3e-6 of a unit of spread, which normalisation
// turns into 3e-6 absolute error on O(1) outputs; the float64 accumulators
// keep the statistics from adding more. 1e-4 leaves margin for that and
// for the gradient (sums of 1000 products), while any float32-only bug
// would show as an O(1) difference.
func TestBatchNormFloat32(t *testing.T) {
	const tol = 1e-4
	for i, shape := range [][]int{{4, 10, 25, 12}, {256, 12}} {
		C := shape[len(shape)-1]
		b64 := newTestBN(t, C, uint64(i))
		b32 := float32BN(t, b64)
		x := convRand(uint64(i), shape...)
		for j := range x.Data {
			x.Data[j] += float64(50 * (j % C) / C)
		}
		// Round the input to float32 first so that both compute on the
		// same values.
		x = tensor.Convert[float64](tensor.Convert[float32](x))
		for _, mode := range []Mode{Train, Eval} {
			y64, err := b64.Forward(x, mode)
			require.NoError(t, err)
			y32, err := b32.Forward(tensor.Convert[float32](x), mode)
			require.NoError(t, err)
			requireClose(t, mode.String()+" output", y64.Data, tensor.Convert[float64](y32).Data, tol)
		}
		requireClose(t, "running_var", b64.RunningVar.Value.Data, tensor.Convert[float64](b32.RunningVar.Value).Data, tol)
		_, err := b64.Forward(x, Train)
		require.NoError(t, err)
		_, err = b32.Forward(tensor.Convert[float32](x), Train)
		require.NoError(t, err)
		dy := convRand(99, shape...)
		dx64, err := b64.Backward(dy)
		require.NoError(t, err)
		dx32, err := b32.Backward(tensor.Convert[float32](dy))
		require.NoError(t, err)
		requireClose(t, "grad_input", dx64.Data, tensor.Convert[float64](dx32).Data, tol)
		requireClose(t, "grad_weight", b64.Weight.Grad.Data, tensor.Convert[float64](b32.Weight.Grad).Data, tol)
		requireClose(t, "grad_bias", b64.Bias.Grad.Data, tensor.Convert[float64](b32.Bias.Grad).Data, tol)
	}
}

func TestBatchNormErrors(t *testing.T) {
	for _, args := range [][3]float64{{0, 1e-5, 0.1}, {4, 0, 0.1}, {4, 1e-5, 1.5}, {4, 1e-5, -0.1}} {
		_, err := NewBatchNorm2D[float32](int(args[0]), args[1], args[2])
		assert.Error(t, err, "%v", args)
	}
	bn, err := NewBatchNorm2D[float32](16, DefaultBNEps, DefaultBNMomentum)
	require.NoError(t, err)
	_, err = bn.Backward(tensor.New[float32](2, 16))
	assert.ErrorContains(t, err, "Train-mode Forward")

	for _, shape := range [][]int{{2, 4, 4, 8}, {2, 16, 4}, {16}} {
		_, err := bn.Forward(tensor.New[float32](shape...), Train)
		var se *ShapeError
		require.True(t, errors.As(err, &se), "%v", shape)
		assert.Equal(t, "BatchNorm2D(16)", se.Layer)
		assert.Equal(t, "[N H W 16] or [N 16]", se.Want)
	}
	// One value per channel has no variance to normalise with.
	_, err = bn.Forward(tensor.New[float32](1, 1, 1, 16), Train)
	assert.ErrorContains(t, err, "more than one value per channel")
	_, err = bn.Forward(tensor.New[float32](1, 1, 1, 16), Eval)
	assert.NoError(t, err)

	_, err = bn.Forward(tensor.New[float32](2, 2, 2, 16), Train)
	require.NoError(t, err)
	_, err = bn.Backward(tensor.New[float32](2, 2, 1, 16))
	var se *ShapeError
	require.True(t, errors.As(err, &se))
	assert.Equal(t, "gradient", se.Argument)
}

// TestBatchNormNoAllocs: as for Conv2D, a warm Forward+Backward allocates
// nothing (reused buffers, loop bodies made once).
func TestBatchNormNoAllocs(t *testing.T) {
	if convRaceEnabled() {
		t.Skip("the race detector adds its own allocations")
	}
	bn, err := NewBatchNorm2D[float32](8, DefaultBNEps, DefaultBNMomentum)
	require.NoError(t, err)
	x := tensor.New[float32](2, 3, 3, 8)
	for i := range x.Data {
		x.Data[i] = float32(i % 7)
	}
	dy := x.Clone()
	step := func() {
		_, err := bn.Forward(x, Train)
		require.NoError(t, err)
		_, err = bn.Backward(dy)
		require.NoError(t, err)
	}
	step()
	assert.Zero(t, testing.AllocsPerRun(10, step))
}
