package layers

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConvSkipInputGrad: with SkipInputGrad, Backward returns nil and the
// same parameter gradients, bit for bit (the same products run in the same
// order), on every path.
func TestConvSkipInputGrad(t *testing.T) {
	for i, cfg := range []Conv2DConfig{
		{In: 3, Out: 8, Kernel: 3, Stride: 2, Bias: true}, // im2col
		{In: 6, Out: 5, Kernel: 1},                        // pointwise
		{In: 6, Out: 6, Kernel: 3, Groups: 6},             // depthwise
	} {
		cfg.Padding = PadSymmetric
		full, skip := newTestConv(t, cfg, uint64(i)), newTestConv(t, cfg, uint64(i))
		skip.SkipInputGrad = true
		x := convRand(9, 2, 7, 7, cfg.In)
		for _, c := range []*Conv2D[float64]{full, skip} {
			y, err := c.Forward(x, Train)
			require.NoError(t, err)
			dx, err := c.Backward(convRand(10, y.Shape...))
			require.NoError(t, err)
			if c == skip {
				require.Nil(t, dx, "%v", c)
			} else {
				require.NotNil(t, dx, "%v", c)
			}
		}
		for j, p := range full.Params() {
			require.Equal(t, p.Grad.Data, skip.Params()[j].Grad.Data, "%v %s", full, p.Name)
		}
	}
}

// TestConvGradOut: with GradOut the input gradient lands there, resized,
// equal to the layer's own (the same computation), on every path; GradOut
// may not be the incoming gradient.
func TestConvGradOut(t *testing.T) {
	for i, cfg := range []Conv2DConfig{
		{In: 3, Out: 8, Kernel: 3, Stride: 2, Bias: true},
		{In: 6, Out: 5, Kernel: 1},
		{In: 6, Out: 6, Kernel: 3, Groups: 6},
	} {
		cfg.Padding = PadSymmetric
		c := newTestConv(t, cfg, uint64(i))
		x := convRand(9, 2, 7, 7, cfg.In)
		y, err := c.Forward(x, Train)
		require.NoError(t, err)
		dy := convRand(10, y.Shape...)
		own, err := c.Backward(dy)
		require.NoError(t, err)
		want := own.Clone()
		c.GradOut = convRand(1, 3)
		got, err := c.Backward(dy)
		require.NoError(t, err)
		require.Same(t, c.GradOut, got)
		require.Equal(t, want.Shape, got.Shape)
		require.Equal(t, want.Data, got.Data, "%v", c)
		c.GradOut = dy
		_, err = c.Backward(dy)
		require.ErrorContains(t, err, "GradOut")
	}
}
