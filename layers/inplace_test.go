package layers

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGradInPlace checks that BatchNorm2D and SqueezeExcite with
// GradInPlace return dy itself holding exactly (bit for bit: the same
// operations on the same values) the gradient a layer with its own buffer
// returns, and add the same parameter gradients.
func TestGradInPlace(t *testing.T) {
	// 20·9·8 rows of 24 channels: enough for every parallel loop to split.
	x := ncRandn(41, 1, 20, 9, 8, 24)
	for _, tc := range []struct {
		name string
		make func(inPlace bool) Layer[float64]
	}{
		{"BatchNorm2D", func(inPlace bool) Layer[float64] {
			bn := newTestBN(t, 24, 42)
			bn.GradInPlace = inPlace
			return bn
		}},
		{"SqueezeExcite", func(inPlace bool) Layer[float64] {
			s := NewSqueezeExcite[float64](24, 6, SiLU)
			ncFillParams(s, 43)
			s.GradInPlace = inPlace
			return s
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dxs [2][]float64
			var grads [2][][]float64
			for i, inPlace := range []bool{false, true} {
				l := tc.make(inPlace)
				_, err := l.Forward(x, Train)
				require.NoError(t, err)
				dy := ncRandn(44, 1, x.Shape...)
				dx, err := l.Backward(dy)
				require.NoError(t, err)
				if inPlace {
					assert.Same(t, dy, dx, "in place: dy is returned")
				} else {
					assert.NotSame(t, dy, dx)
				}
				dxs[i] = append([]float64(nil), dx.Data...)
				for _, p := range l.Params() {
					grads[i] = append(grads[i], append([]float64(nil), p.Grad.Data...))
				}
			}
			require.Equal(t, dxs[0], dxs[1])
			require.Equal(t, grads[0], grads[1])
		})
	}
}
