package layers

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/tensor"
)

// TestBatchNormActGradients checks BatchNorm2D with a fused activation
// against finite differences, with and without GradInPlace, for every
// activation kind. The [1 3 1 1500] shape has more channels than a chunk
// holds (4096/C rows of C channels, at least one), so that several
// one-row chunks run; TestBatchNormActFloat32 covers ragged chunks.
func TestBatchNormActGradients(t *testing.T) {
	for _, act := range []Activation{SiLU, ReLU, ReLU6, Sigmoid} {
		for i, shape := range [][]int{{2, 3, 4, 5}, {1, 3, 1, 1500}, {6, 5}} {
			for _, inPlace := range []bool{false, true} {
				if shape[len(shape)-1] > 100 && (act != SiLU || inPlace) {
					continue // seconds each: once is enough
				}
				t.Run(fmt.Sprintf("%v/%v/inplace=%t", act, shape, inPlace), func(t *testing.T) {
					bn := newTestBN(t, shape[len(shape)-1], uint64(i))
					bn.Act = act
					bn.GradInPlace = inPlace
					x := convRand(uint64(20+i), shape...)
					for j := 0; j < x.Len(); j += shape[len(shape)-1] {
						x.Data[j] += 5
					}
					checkLayerGrads(t, bn, x, Train)
				})
			}
		}
	}
}

// TestBatchNormActMatchesSeparate: in float64 the fused layer must give what
// BatchNorm2D followed by the activation layer gives, outputs and all
// gradients, in both modes. Both evaluate the same formulas on the same
// values; only the chunked order of the per-channel sums differs, which
// moves results by a few ulps (1e-15 relative), far inside 1e-12.
func TestBatchNormActMatchesSeparate(t *testing.T) {
	const tol = 1e-12
	shape := []int{3, 7, 5, 24}
	x := convRand(5, shape...)
	dy := convRand(6, shape...)
	for _, mode := range []Mode{Train, Eval} {
		fused := newTestBN(t, 24, 1)
		fused.Act = SiLU
		plain := newTestBN(t, 24, 1)
		act := NewActivation[float64](SiLU)

		yf, err := fused.Forward(x, mode)
		require.NoError(t, err)
		z, err := plain.Forward(x, mode)
		require.NoError(t, err)
		yp, err := act.Forward(z, mode)
		require.NoError(t, err)
		requireClose(t, mode.String()+" output", yp.Data, yf.Data, tol)
		if mode == Eval {
			continue
		}
		dxf, err := fused.Backward(dy)
		require.NoError(t, err)
		dz, err := act.Backward(dy)
		require.NoError(t, err)
		dxp, err := plain.Backward(dz)
		require.NoError(t, err)
		requireClose(t, "grad_input", dxp.Data, dxf.Data, tol)
		requireClose(t, "grad_weight", plain.Weight.Grad.Data, fused.Weight.Grad.Data, tol)
		requireClose(t, "grad_bias", plain.Bias.Grad.Data, fused.Bias.Grad.Data, tol)
		requireClose(t, "running_mean", plain.RunningMean.Value.Data, fused.RunningMean.Value.Data, tol)
	}
}

// TestBatchNormActFloat32 runs the float32 path (vmath kernels, chunked
// recomputation) against float64 on the same rounded input. The SiLU
// kernel is within 3 ulp (~2e-7 relative) and the normalisation adds
// float32 rounding of O(1) values; the gradient sums 1680 products per
// channel. 1e-4 holds all of that with margin while a wrong chunk offset
// or a missing term shows up as O(1).
func TestBatchNormActFloat32(t *testing.T) {
	const tol = 1e-4
	for _, shape := range [][]int{{4, 6, 7, 40}, {2, 2, 3, 1100}} {
		C := shape[3]
		b64 := newTestBN(t, C, 3)
		b64.Act = SiLU
		b32 := float32BN(t, b64)
		x := tensor.Convert[float64](tensor.Convert[float32](convRand(8, shape...)))
		dy := tensor.Convert[float64](tensor.Convert[float32](convRand(9, shape...)))
		for _, mode := range []Mode{Eval, Train} {
			y64, err := b64.Forward(x, mode)
			require.NoError(t, err)
			y32, err := b32.Forward(tensor.Convert[float32](x), mode)
			require.NoError(t, err)
			requireClose(t, mode.String()+" output", y64.Data, tensor.Convert[float64](y32).Data, tol)
		}
		dx64, err := b64.Backward(dy)
		require.NoError(t, err)
		dx32, err := b32.Backward(tensor.Convert[float32](dy))
		require.NoError(t, err)
		requireClose(t, "grad_input", dx64.Data, tensor.Convert[float64](dx32).Data, tol)
		requireClose(t, "grad_weight", b64.Weight.Grad.Data, tensor.Convert[float64](b32.Weight.Grad).Data, tol)
		requireClose(t, "grad_bias", b64.Bias.Grad.Data, tensor.Convert[float64](b32.Bias.Grad).Data, tol)
	}
}
