package vmath

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ulp32 is the spacing of float32 numbers at v.
func ulp32(v float64) float64 {
	f := float32(math.Abs(v))
	return float64(math.Nextafter32(f, float32(math.Inf(1))) - f)
}

// sweep returns n points spread evenly over [lo, hi] plus the endpoints.
func sweep(lo, hi float64, n int) []float32 {
	x := make([]float32, 0, n+2)
	for i := 0; i <= n; i++ {
		x = append(x, float32(lo+(hi-lo)*float64(i)/float64(n)))
	}
	return x
}

// maxULP returns the largest error of got against want in float32 ulps of
// want, and where.
func maxULP(got []float32, want func(i int) float64) (worst float64, at int) {
	for i, g := range got {
		w := want(i)
		if e := math.Abs(float64(g)-w) / ulp32(w); e > worst || math.IsNaN(e) {
			worst, at = e, i
		}
	}
	return worst, at
}

func TestExpAccuracy(t *testing.T) {
	// Over the whole unclamped range the measured max error is 0.96 ulp;
	// Cephes quotes 2 ulp for its expf polynomial, the tolerance here.
	x := sweep(expLo, expHi, 1<<20)
	got := make([]float32, len(x))
	for i, v := range x {
		got[i] = exp(v)
	}
	worst, at := maxULP(got, func(i int) float64 { return math.Exp(float64(x[i])) })
	t.Logf("exp: max error %.2f ulp at x=%v", worst, x[at])
	assert.LessOrEqual(t, worst, 2.0)
}

// TestSigmoidSiLUAccuracy checks every implementation against float64 on
// [-20, 20], where the results are normal numbers. Measured: sigmoid at
// most 2.29 ulp, SiLU at most 2.67 ulp (the exponential's error, one
// rounding of 1+e, the division and, for SiLU, the product); 4 ulp leaves
// room for the fused operations of the assembly, which round differently.
func TestSigmoidSiLUAccuracy(t *testing.T) {
	x := sweep(-20, 20, 1<<18)
	s := make([]float32, len(x))
	y := make([]float32, len(x))
	for _, im := range available() {
		im.sigmoid(s, x)
		worst, at := maxULP(s, func(i int) float64 { return 1 / (1 + math.Exp(-float64(x[i]))) })
		t.Logf("%s sigmoid: max error %.2f ulp at x=%v", im.name, worst, x[at])
		assert.LessOrEqual(t, worst, 4.0, im.name)

		im.silu(y, nil, x)
		worst, at = maxULP(y, func(i int) float64 { v := float64(x[i]); return v / (1 + math.Exp(-v)) })
		t.Logf("%s silu: max error %.2f ulp at x=%v", im.name, worst, x[at])
		assert.LessOrEqual(t, worst, 4.0, im.name)
	}
}

func TestExtremes(t *testing.T) {
	inf := float32(math.Inf(1))
	x := []float32{-inf, -1e30, -100, -88.5, -87, 87, 88.5, 100, 1e30, inf, 0, float32(math.Copysign(0, -1))}
	for _, im := range available() {
		// Pad to two vectors so that the assembly, not the Go tail, sees them.
		xs := append(append([]float32{}, x...), make([]float32, 32-len(x))...)
		s := make([]float32, len(xs))
		y := make([]float32, len(xs))
		im.sigmoid(s, xs)
		im.silu(y, nil, xs)
		for i, v := range x {
			want := 1 / (1 + math.Exp(-float64(v)))
			// Below -87.34 the exponential is clamped: σ is then about
			// 6e-39 instead of smaller; 1e-37 absolute covers that and
			// nothing O(1).
			assert.InDelta(t, want, s[i], 1e-37, "%s sigmoid(%v)", im.name, v)
			assert.False(t, math.IsNaN(float64(y[i])), "%s silu(%v)", im.name, v)
			if !math.IsInf(float64(v), 0) {
				// |x|·6e-39 for x down to -1e30 would be large: SiLU of a
				// very negative x is x·σ(x) with the clamped σ, so allow
				// |x|·1e-37.
				assert.InDelta(t, float64(v)*want, y[i], math.Abs(float64(v))*1e-37+1e-37, "%s silu(%v)", im.name, v)
			}
		}
		assert.Equal(t, float32(1), s[9], "%s sigmoid(+Inf)", im.name)
		assert.Equal(t, inf, y[9], "%s silu(+Inf)", im.name)

		nan := []float32{float32(math.NaN())}
		nan = append(nan, make([]float32, 31)...)
		im.sigmoid(s, nan)
		assert.True(t, math.IsNaN(float64(s[0])), "%s sigmoid(NaN) propagates", im.name)
	}
}

// TestFastMatchesFallback compares every assembly implementation with the
// Go one on random lengths 0..70 (whole vectors plus tails) and values.
// They evaluate the same formulas; the fused multiply-adds of the assembly
// round once where Go rounds twice, which measured at most 2 ulp apart;
// 4 ulp is the tolerance.
func TestFastMatchesFallback(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	is := available()
	for _, fast := range is[:len(is)-1] {
		for n := 0; n <= 70; n++ {
			x, dy := make([]float32, n), make([]float32, n)
			for i := range x {
				x[i] = float32(rnd.NormFloat64() * 6)
				dy[i] = float32(rnd.NormFloat64())
			}
			run := func(im *impl) [7][]float32 {
				var r [7][]float32
				for j := range r {
					r[j] = make([]float32, n)
				}
				im.sigmoid(r[0], x)
				im.silu(r[1], r[2], x)
				im.sigmoidGrad(r[3], dy, r[0])
				im.siluGrad(r[4], dy, x, r[2])
				im.silu(r[5], nil, x)
				// In place over a copy of dy, as activation layers run it.
				copy(r[6], dy)
				im.siluGradX(r[6], r[6], x)
				return r
			}
			a, b := run(fast), run(&goImpl)
			for j := range a {
				for i := range a[j] {
					tol := 4 * ulp32(float64(b[j][i]))
					if j == 3 || j == 4 || j == 6 {
						// The gradients take σ from each implementation's
						// own forward and multiply three to four rounded
						// terms: 8 ulp of the result, plus 1e-7 absolute
						// for 1-σ near σ = 1 (cancellation).
						tol = 8*ulp32(float64(b[j][i])) + 1e-7*math.Abs(float64(dy[i]))
					}
					require.InDelta(t, b[j][i], a[j][i], tol, "%s n=%d output %d element %d x=%v", fast.name, n, j, i, x[i])
				}
			}
		}
	}
}

func TestGradients(t *testing.T) {
	x := sweep(-30, 30, 4097)
	dy := make([]float32, len(x))
	for i := range dy {
		dy[i] = float32(math.Sin(float64(i)))
	}
	for _, im := range available() {
		s, y := make([]float32, len(x)), make([]float32, len(x))
		im.silu(y, s, x)
		gs, gl, gx := make([]float32, len(x)), make([]float32, len(x)), make([]float32, len(x))
		im.sigmoidGrad(gs, dy, s)
		im.siluGrad(gl, dy, x, s)
		im.siluGradX(gx, dy, x)
		for i, v := range x {
			e := 1 / (1 + math.Exp(-float64(v)))
			d := float64(dy[i])
			// σ has 4 ulp of relative error (TestSigmoidSiLUAccuracy); the
			// formulas multiply it with up to three more roundings, and
			// 1-σ cancels for σ near 1 (absolute error about 1e-7). 1e-6
			// relative plus 2e-7·|dy|·(1+|x|) bounds that.
			tol := func(want float64) float64 { return 1e-6*math.Abs(want) + 2e-7*math.Abs(d)*(1+math.Abs(float64(v))) }
			want := d * e * (1 - e)
			require.InDelta(t, want, gs[i], tol(want), "%s sigmoid grad x=%v", im.name, v)
			want = d * e * (1 + float64(v)*(1-e))
			require.InDelta(t, want, gl[i], tol(want), "%s silu grad x=%v", im.name, v)
			require.InDelta(t, want, gx[i], tol(want), "%s silu grad recomputing σ, x=%v", im.name, v)
		}
	}
}

func TestPublicAPI(t *testing.T) {
	x := []float32{-2, -1, 0, 1, 2}
	y, s := make([]float32, 5), make([]float32, 5)
	SiLU(y, s, x)
	Sigmoid(y, x)
	assert.InDelta(t, 0.5, y[2], 0)
	assert.InDelta(t, 0.7310586, s[3], 1e-7) // σ(1) to float32 rounding
	dx := make([]float32, 5)
	SigmoidGrad(dx, x, s)
	SiLUGrad(dx, x, x, s)
	want := append([]float32(nil), dx...)
	SiLUGrad(dx, x, x, nil)
	// σ recomputed by the same code as SiLU's: the same bits.
	assert.Equal(t, want, dx)
	assert.Panics(t, func() { Sigmoid(y[:4], x) })
	assert.Panics(t, func() { SiLUGrad(dx, x, x[:3], s) })
}

func BenchmarkSiLU(b *testing.B) {
	const n = 1 << 16 // 256 KiB per slice: in L2, the kernels' own speed
	x, y, s, dx := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(i%17)/4 - 2
	}
	for _, im := range available() {
		b.Run(fmt.Sprintf("forward/%s", im.name), func(b *testing.B) {
			for b.Loop() {
				im.silu(y, s, x)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/element")
		})
		b.Run(fmt.Sprintf("backward/%s", im.name), func(b *testing.B) {
			for b.Loop() {
				im.siluGrad(dx, y, x, s)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/element")
		})
		b.Run(fmt.Sprintf("backward-recompute/%s", im.name), func(b *testing.B) {
			for b.Loop() {
				im.siluGradX(dx, y, x)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/element")
		})
	}
}
