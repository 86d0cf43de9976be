package gradcheck

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Numeric returns the central-difference gradient of loss with respect to
// each element of v: (loss(v+eps) - loss(v-eps)) / 2eps, restoring v after
// each probe. loss must read v afresh on every call.
func Numeric(loss func() float64, v []float64, eps float64) []float64 {
	g := make([]float64, len(v))
	for i := range v {
		orig := v[i]
		v[i] = orig + eps
		lp := loss()
		v[i] = orig - eps
		lm := loss()
		v[i] = orig
		g[i] = (lp - lm) / (2 * eps)
	}
	return g
}

// Compare returns an error describing the worst element where analytic and
// numeric differ by more than tol·max(1, |numeric|), or nil.
func Compare(what string, analytic, numeric []float64, tol float64) error {
	if len(analytic) != len(numeric) {
		return fmt.Errorf("%s: %d analytic values, %d numeric", what, len(analytic), len(numeric))
	}
	worst, at := 0.0, -1
	for i := range analytic {
		d := math.Abs(analytic[i]-numeric[i]) / math.Max(1, math.Abs(numeric[i]))
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	if worst > tol || math.IsNaN(worst) {
		return fmt.Errorf("%s: element %d: analytic %.10g, numeric %.10g (relative error %.3g > %.3g)",
			what, at, analytic[at], numeric[at], worst, tol)
	}
	return nil
}

// Weights returns n values drawn from N(0, 1) with a fixed seed, used as the
// fixed upstream gradient R in the scalar test loss sum(output·R).
func Weights(n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	w := make([]float64, n)
	for i := range w {
		w[i] = r.NormFloat64()
	}
	return w
}

// Dot is sum(a[i]·b[i]).
func Dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
