package layers

import (
	"fmt"
	"math"
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

// The float32 pool runs on chanops' vector kernels; compare it with the
// float64 layer on the same data. chanops sums blocks of at most 256 rows
// and then the block sums, so the sum of H·W = 99 values is within
// (99 + 1 + 1)·u·Σ|x| (u = 2⁻²⁴, Higham §4.2), plus the rounding of the
// input to float32 and of the mean: 103·u·mean|x| + u·|mean| bounds it.
// The backward pass is dy·(1/99) rounded once, or twice counting 1/99.
func TestGlobalAvgPoolFloat32(t *testing.T) {
	const u = 1.0 / (1 << 24)
	x64 := ncRandn(24, 1, 3, 9, 11, 37) // 37 channels: two vectors and a ragged tail
	x32 := tensor.Convert[float32](x64)
	p64, p32 := NewGlobalAvgPool[float64](), NewGlobalAvgPool[float32]()
	y64, err := p64.Forward(x64, Train)
	require.NoError(t, err)
	y32, err := p32.Forward(x32, Train)
	require.NoError(t, err)
	for i, want := range y64.Data {
		b, c := i/37, i%37
		mag := 0.0
		for q := range 99 {
			mag += math.Abs(x64.Data[(b*99+q)*37+c])
		}
		assert.InDelta(t, want, y32.Data[i], 103*u*mag/99+u*math.Abs(want), "output %d", i)
	}
	dy64 := ncRandn(25, 1, 3, 37)
	dx64, err := p64.Backward(dy64)
	require.NoError(t, err)
	dx32, err := p32.Backward(tensor.Convert[float32](dy64))
	require.NoError(t, err)
	for i, want := range dx64.Data {
		assert.InDelta(t, want, dx32.Data[i], 3*u*math.Abs(want), "input gradient %d", i)
	}
}

// BenchmarkGlobalAvgPool runs the float32 forward pass on B0's head map
// (batch 8, 7×7, 1280 channels) and on a stage-2 map as squeeze-and-
// excitation pools it (batch 8, 56×56, 144 channels).
func BenchmarkGlobalAvgPool(b *testing.B) {
	for _, shape := range [][4]int{{8, 7, 7, 1280}, {8, 56, 56, 144}} {
		x := tensor.New[float32](shape[:]...)
		for i := range x.Data {
			x.Data[i] = float32(i%13)/6 - 1
		}
		p := NewGlobalAvgPool[float32]()
		b.Run(fmt.Sprintf("%dx%dx%d", shape[1], shape[2], shape[3]), func(b *testing.B) {
			b.SetBytes(int64(4 * x.Len()))
			for b.Loop() {
				if _, err := p.Forward(x, Eval); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
