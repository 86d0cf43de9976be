package layers

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/tensor"
)

// TestSqueezeExciteScaleEval: given the channel means, ScaleEval gives
// Forward's Eval output, in place. Same float64 formulas; the means are
// computed here in another order, a few ulps apart, so 1e-13.
func TestSqueezeExciteScaleEval(t *testing.T) {
	s := NewSqueezeExcite[float64](12, 3, SiLU)
	ncFillParams(s, 41)
	x := ncRandn(42, 1, 2, 5, 7, 12)
	want, err := s.Forward(x, Eval)
	require.NoError(t, err)
	want = want.Clone()
	means := tensor.New[float64](2, 12)
	for i, v := range x.Data {
		means.Data[(i/(35*12))*12+i%12] += v / 35
	}
	got, err := s.ScaleEval(x, means)
	require.NoError(t, err)
	require.Same(t, x, got, "scales in place")
	requireClose(t, "output", want.Data, got.Data, 1e-13)
	_, err = s.Backward(x)
	require.Error(t, err, "Eval leaves nothing to differentiate")

	_, err = s.ScaleEval(x, tensor.New[float64](3, 12))
	var se *ShapeError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "means", se.Argument)
	_, err = s.ScaleEval(ncRandn(1, 1, 2, 5, 7, 11), means)
	require.ErrorAs(t, err, &se)
	require.Equal(t, "input", se.Argument)
}
