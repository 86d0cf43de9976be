package gradcheck

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNumericMatchesKnownGradient(t *testing.T) {
	v := []float64{0.3, -1.2, 2}
	loss := func() float64 { return v[0]*v[0] + math.Sin(v[1]) + v[0]*v[2] }
	g := Numeric(loss, v, 1e-6)
	want := []float64{2*0.3 + 2, math.Cos(-1.2), 0.3}
	// Central differences at eps 1e-6: truncation ~eps²·f''' and rounding
	// ~1e-16/eps, both far below 1e-8.
	require.NoError(t, Compare("known", g, want, 1e-8))
	require.Equal(t, []float64{0.3, -1.2, 2}, v, "Numeric must restore v")
}

func TestCompareReportsWorstElement(t *testing.T) {
	err := Compare("x", []float64{1, 2, 3}, []float64{1, 2.5, 3}, 1e-3)
	require.ErrorContains(t, err, "element 1")
	require.Error(t, Compare("nan", []float64{math.NaN()}, []float64{0}, 1))
	require.Error(t, Compare("len", []float64{1}, []float64{1, 2}, 1))
}
