package mbconv

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/gradcheck"
	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/layers"
)

// The block writes gradients and the residual sum over scratch tensors of
// its own layers (GradInPlace, the in-place residual add). That must never
// reach the caller's tensors: Forward leaves x alone, Backward leaves dy
// alone, and a second identical step gives bit-identical results, so no
// buffer one step relies on was overwritten by another.
func TestBlockLeavesCallerTensorsAlone(t *testing.T) {
	for name, c := range map[string]Config{
		"expand-skip-se":    {In: 8, Mid: 24, Out: 8, Kernel: 3, Stride: 1, SE: 2, Skip: true},
		"no-expand-no-skip": {In: 8, Mid: 8, Out: 6, Kernel: 3, Stride: 1, SE: 2},
		"expand-s2-no-se":   {In: 4, Mid: 12, Out: 6, Kernel: 5, Stride: 2},
	} {
		t.Run(name, func(t *testing.T) {
			c.BNEps, c.BNMomentum, c.Act, c.Padding = 1e-3, 0, layers.SiLU, layers.PadSymmetric
			b, err := New[float64](c, rand.New(rand.NewPCG(5, 6)))
			require.NoError(t, err)
			x := tensor.New[float64](3, 7, 6, c.In)
			copy(x.Data, gradcheck.Weights(x.Len(), 21))
			x0 := append([]float64(nil), x.Data...)
			var outs, dxs [2][]float64
			for step := range 2 {
				y, err := b.Forward(x, layers.Train)
				require.NoError(t, err)
				require.Equal(t, x0, x.Data, "Forward changed its input")
				outs[step] = append([]float64(nil), y.Data...)
				dy, err := tensor.FromData(gradcheck.Weights(y.Len(), 22), y.Shape...)
				require.NoError(t, err)
				dy0 := append([]float64(nil), dy.Data...)
				dx, err := b.Backward(dy)
				require.NoError(t, err)
				require.Equal(t, dy0, dy.Data, "Backward changed its gradient argument")
				dxs[step] = append([]float64(nil), dx.Data...)
			}
			require.Equal(t, outs[0], outs[1])
			require.Equal(t, dxs[0], dxs[1])
		})
	}
}
