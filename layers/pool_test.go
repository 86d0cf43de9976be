package layers

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/tensor"
)

func TestGlobalAvgPoolGradients(t *testing.T) {
	checkLayerGrads(t, NewGlobalAvgPool[float64](), ncRandn(21, 1, 2, 3, 4, 5), Train)
}

func TestGlobalAvgPoolMatchesPyTorch(t *testing.T) {
	p := NewGlobalAvgPool[float64]()
	y, err := p.Forward(refNHWC(t, "avgpool.input"), Train)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 16}, y.Shape)
	// PyTorch's [N, C, 1, 1] holds the same numbers in the same order.
	requireClose(t, "avgpool output", ref(t, "avgpool.output").Data, y.Data, refTol)
	dy := ref(t, "avgpool.grad_output")
	dx, err := p.Backward(&tensor.Tensor[float64]{Shape: []int{2, 16}, Data: dy.Data})
	require.NoError(t, err)
	requireClose(t, "avgpool grad_input", refNHWC(t, "avgpool.grad_input").Data, dx.Data, refTol)
}

// Large inputs take the parallel path; compare it with a direct sum.
func TestGlobalAvgPoolParallel(t *testing.T) {
	x := ncRandn(22, 1, 4, 20, 20, 64)
	p := NewGlobalAvgPool[float64]()
	y, err := p.Forward(x, Train)
	require.NoError(t, err)
	for b := range 4 {
		for c := range 64 {
			s := 0.0
			for i := range 400 {
				s += x.Data[(b*400+i)*64+c]
			}
			// Same additions in the same order, then a multiplication by
			// 1/400 instead of a division: a few ulp.
			assert.InDelta(t, s/400, y.Data[b*64+c], 1e-15)
		}
	}
	dy := ncRandn(23, 1, 4, 64)
	dx, err := p.Backward(dy)
	require.NoError(t, err)
	for i, v := range dx.Data {
		b, c := i/(400*64), i%64
		assert.InDelta(t, dy.Data[b*64+c]/400, v, 1e-17)
	}
}

func TestGlobalAvgPoolErrors(t *testing.T) {
	p := NewGlobalAvgPool[float64]()
	_, err := p.Forward(tensor.New[float64](2, 16), Train)
	var se *ShapeError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "GlobalAvgPool: input has shape [2 16], want [N H W C] with H·W > 0", err.Error())
	_, err = p.Forward(tensor.New[float64](2, 0, 3, 4), Train)
	require.ErrorAs(t, err, &se)

	_, err = p.Forward(tensor.New[float64](2, 3, 3, 4), Train)
	require.NoError(t, err)
	_, err = p.Backward(tensor.New[float64](2, 1, 1, 4))
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "GlobalAvgPool: gradient has shape [2 1 1 4], want [2 4]", err.Error())

	_, err = NewGlobalAvgPool[float64]().Backward(tensor.New[float64](2, 4))
	require.ErrorContains(t, err, "without a preceding Forward in Train mode")
}
