package layers

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/tensor"
)

func TestLinearGradients(t *testing.T) {
	for _, bias := range []bool{true, false} {
		l := NewLinear[float64](5, 3, bias)
		ncFillParams(l, 11)
		checkLayerGrads(t, l, ncRandn(12, 1, 4, 5), Train)
		// A pooled NHWC map [N, 1, 1, In] is the same numbers.
		checkLayerGrads(t, l, ncRandn(13, 1, 4, 1, 1, 5), Train)
	}
}

func TestLinearFourDimInput(t *testing.T) {
	l := NewLinear[float64](5, 3, true)
	ncFillParams(l, 14)
	x := ncRandn(15, 1, 2, 5)
	y2, err := l.Forward(x, Train)
	require.NoError(t, err)
	want := y2.Clone()
	x4 := &tensor.Tensor[float64]{Shape: []int{2, 1, 1, 5}, Data: x.Data}
	y4, err := l.Forward(x4, Train)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 3}, y4.Shape)
	assert.Equal(t, want.Data, y4.Data)
	dx, err := l.Backward(tensor.New[float64](2, 3))
	require.NoError(t, err)
	assert.Equal(t, []int{2, 1, 1, 5}, dx.Shape, "the input gradient has the input's shape")
}

func TestLinearMatchesPyTorch(t *testing.T) {
	l := NewLinear[float64](32, 10, true)
	l.Weight.Value.CopyFrom(ref(t, "linear.weight"))
	l.Bias.Value.CopyFrom(ref(t, "linear.bias"))
	y, err := l.Forward(ref(t, "linear.input"), Train)
	require.NoError(t, err)
	requireClose(t, "linear output", ref(t, "linear.output").Data, y.Data, refTol)
	dx, err := l.Backward(ref(t, "linear.grad_output"))
	require.NoError(t, err)
	requireClose(t, "linear grad_input", ref(t, "linear.grad_input").Data, dx.Data, refTol)
	requireClose(t, "linear grad_weight", ref(t, "linear.grad_weight").Data, l.Weight.Grad.Data, refTol)
	requireClose(t, "linear grad_bias", ref(t, "linear.grad_bias").Data, l.Bias.Grad.Data, refTol)
}

func TestLinearAccumulatesGradients(t *testing.T) {
	l := NewLinear[float64](4, 2, true)
	ncFillParams(l, 16)
	x, dy := ncRandn(17, 1, 3, 4), ncRandn(18, 1, 3, 2)
	_, err := l.Forward(x, Train)
	require.NoError(t, err)
	_, err = l.Backward(dy)
	require.NoError(t, err)
	once := l.Weight.Grad.Clone()
	_, err = l.Backward(dy)
	require.NoError(t, err)
	for i, g := range once.Data {
		// GEMM may fold the existing gradient into its sums in another
		// order than 0 + sum, so allow the last couple of bits (1e-14 of
		// values of order 1); forgetting to accumulate gives g, not 2g.
		assert.InDelta(t, 2*g, l.Weight.Grad.Data[i], 1e-14)
	}
}

func TestLinearErrors(t *testing.T) {
	l := NewLinear[float64](32, 10, true)
	_, err := l.Forward(tensor.New[float64](4, 31), Train)
	var se *ShapeError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "Linear(32→10): input has shape [4 31], want [N 32] or [N 1 1 32]", err.Error())
	_, err = l.Forward(tensor.New[float64](4, 2, 1, 32), Train)
	require.ErrorAs(t, err, &se)

	_, err = l.Forward(tensor.New[float64](4, 32), Eval)
	require.NoError(t, err)
	_, err = l.Backward(tensor.New[float64](4, 10))
	require.ErrorContains(t, err, "Linear(32→10): Backward called without a preceding Forward in Train mode")

	_, err = l.Forward(tensor.New[float64](4, 32), Train)
	require.NoError(t, err)
	_, err = l.Backward(tensor.New[float64](4, 9))
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "Linear(32→10): gradient has shape [4 9], want [4 10]", err.Error())

	assert.Len(t, NewLinear[float64](3, 2, false).Params(), 1)
	assert.Panics(t, func() { NewLinear[float64](0, 2, true) })
}
