package vmath

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func randSlice32(rnd *rand.Rand, n int, lo, hi float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(lo + (hi-lo)*rnd.Float64())
	}
	return s
}

// bnWidths covers widths below one 8-step (Go only), with a ragged Go
// tail, with the 8-wide step, and whole 16-wide steps.
var bnWidths = []int{1, 3, 8, 13, 16, 24, 40, 96, 100}

// TestNormRows checks every implementation of NormRows and NormGradRows
// against float64 arithmetic on the same float32 inputs, in place and not.
// Each result rounds at most three times (difference, products, sums), each
// by at most half a float32 epsilon of the sum of the absolute terms, and a
// fused multiply-add only removes roundings: 2 epsilons of that sum bound
// the error of every implementation.
func TestNormRows(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	const eps = 0x1p-23
	for _, im := range bnAvailable() {
		for _, c := range bnWidths {
			for _, rows := range []int{1, 7} {
				name := fmt.Sprintf("%s c=%d rows=%d", im.name, c, rows)
				x := randSlice32(rnd, rows*c, -30, 50)
				dy := randSlice32(rnd, rows*c, -1, 1)
				m := randSlice32(rnd, c, 0, 20)
				a := randSlice32(rnd, c, -3, 3)
				xc := randSlice32(rnd, c, -0.1, 0.1)
				b := randSlice32(rnd, c, -1, 1)

				y := make([]float32, len(x))
				im.norm(y, x, m, a, b)
				dx := make([]float32, len(x))
				im.normGrad(dx, dy, x, m, a, xc, b)
				for i, v := range x {
					j := i % c
					d := float64(v) - float64(m[j])
					want := d*float64(a[j]) + float64(b[j])
					bound := 2 * eps * (math.Abs(d*float64(a[j])) + math.Abs(float64(b[j])))
					require.InDelta(t, want, float64(y[i]), bound, "%s norm %d", name, i)
					want = float64(dy[i])*float64(a[j]) + d*float64(xc[j]) + float64(b[j])
					bound = 2 * eps * (math.Abs(float64(dy[i])*float64(a[j])) + math.Abs(d*float64(xc[j])) + math.Abs(float64(b[j])))
					require.InDelta(t, want, float64(dx[i]), bound, "%s grad %d", name, i)
				}

				// In place: dst may be the input (x for NormRows, dy for
				// NormGradRows), giving the same results.
				xin := append([]float32(nil), x...)
				im.norm(xin, xin, m, a, b)
				assert.Equal(t, y, xin, "%s norm in place", name)
				dyin := append([]float32(nil), dy...)
				im.normGrad(dyin, dyin, x, m, a, xc, b)
				assert.Equal(t, dx, dyin, "%s grad in place", name)
			}
		}
	}
}

// TestCenteredSums checks every implementation of the float64 sums against
// the Go loop. Both add the rows in the same order in float64; only the
// assembly's fused multiply-add rounds differently, by about 1e-16 of the
// sum of absolute terms per step, so 1e-13 of it over 7 rows is ample.
func TestCenteredSums(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for _, im := range bnAvailable() {
		for _, c := range bnWidths {
			const rows = 7
			name := fmt.Sprintf("%s c=%d", im.name, c)
			x := randSlice32(rnd, rows*c, -30, 50)
			dy := randSlice32(rnd, rows*c, -1, 1)
			base := make([]float64, c)
			for j := range base {
				base[j] = float64(x[j])
			}
			// Start from nonzero sums: the functions add into them.
			s1, s2 := make([]float64, c), make([]float64, c)
			w1, w2 := make([]float64, c), make([]float64, c)
			for j := range c {
				s1[j], s2[j] = float64(j), float64(2*j)
				w1[j], w2[j] = s1[j], s2[j]
			}
			im.sums(s1, s2, x, base)
			sumsGo(w1, w2, x, base)
			sg, sgx := make([]float64, c), make([]float64, c)
			wg, wgx := make([]float64, c), make([]float64, c)
			im.gradSums(sg, sgx, dy, x, base)
			gradSumsGo(wg, wgx, dy, x, base)
			for j := range c {
				var abs1, abs2, absg, absgx float64
				for r := range rows {
					d := float64(x[r*c+j]) - base[j]
					g := float64(dy[r*c+j])
					abs1 += math.Abs(d)
					abs2 += d * d
					absg += math.Abs(g)
					absgx += math.Abs(g * d)
				}
				assert.InDelta(t, w1[j], s1[j], 1e-13*(abs1+float64(j)), "%s s1[%d]", name, j)
				assert.InDelta(t, w2[j], s2[j], 1e-13*(abs2+float64(2*j)), "%s s2[%d]", name, j)
				assert.InDelta(t, wg[j], sg[j], 1e-13*absg, "%s sg[%d]", name, j)
				assert.InDelta(t, wgx[j], sgx[j], 1e-13*absgx, "%s sgx[%d]", name, j)
			}
		}
	}
}

func TestBNLengthChecks(t *testing.T) {
	x := make([]float32, 10)
	c3 := make([]float32, 3)
	assert.Panics(t, func() { NormRows(x, x, c3, c3, c3) }, "10 is not a multiple of 3")
	assert.Panics(t, func() { NormRows(x[:9], x[:6], c3, c3, c3) }, "dst length differs")
	assert.Panics(t, func() { NormRows(x[:9], x[:9], c3, c3[:2], c3) }, "a too short")
	assert.Panics(t, func() { CenteredSums(make([]float64, 2), make([]float64, 3), x[:9], make([]float64, 3)) }, "s1 too short")
}

// BenchmarkNormRows times the forward normalisation of 4M floats in rows
// of 96 channels.
func BenchmarkNormRows(b *testing.B) {
	const c, rows = 96, 1 << 16
	rnd := rand.New(rand.NewPCG(5, 6))
	x := randSlice32(rnd, c*rows, -1, 1)
	m, a, s := randSlice32(rnd, c, -1, 1), randSlice32(rnd, c, -1, 1), randSlice32(rnd, c, -1, 1)
	for _, im := range bnAvailable() {
		b.Run(im.name, func(b *testing.B) {
			b.SetBytes(int64(8 * len(x)))
			for b.Loop() {
				im.norm(x, x, m, a, s)
			}
		})
	}
}

// BenchmarkCenteredSums times the forward sums over 4M floats in rows of
// 96 channels.
func BenchmarkCenteredSums(b *testing.B) {
	const c, rows = 96, 1 << 16
	rnd := rand.New(rand.NewPCG(7, 8))
	x := randSlice32(rnd, c*rows, -1, 1)
	base, s1, s2 := make([]float64, c), make([]float64, c), make([]float64, c)
	for _, im := range bnAvailable() {
		b.Run(im.name, func(b *testing.B) {
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				im.sums(s1, s2, x, base)
			}
		})
	}
}
