package direct

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// reference is the convolution as a plain loop in float64.
func reference(s Shape, x, w []float32) []float64 {
	out := make([]float64, s.N*s.OH*s.OW*s.O)
	for n := range s.N {
		for oy := range s.OH {
			for ox := range s.OW {
				for o := range s.O {
					var acc float64
					t := 0
					for ky := range s.K {
						for kx := range s.K {
							for c := range s.C {
								v := x[((n*s.HP+oy*s.S+ky)*s.WP+ox*s.S+kx)*s.C+c]
								acc += float64(v) * float64(w[t*s.O+o])
								t++
							}
						}
					}
					out[((n*s.OH+oy)*s.OW+ox)*s.O+o] = acc
				}
			}
		}
	}
	return out
}

// TestRows checks Rows (the assembly where Supported, else the Go loop)
// against a float64 loop, on widths with and without a remainder of
// pixels past the last group of eight and on every channel block. Each
// output sums 27 float32 products of O(1) values in another order than the
// reference: a few float32 roundings of sums near 5, so 1e-5 relative to
// max(1, |want|); a wrong tap or pixel offset is an O(1) error.
func TestRows(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ n, oh, ow, o, k, s, ch int }{
		{2, 5, 16, 32, 3, 2, 3}, // two whole groups
		{1, 3, 13, 16, 3, 2, 3}, // a group and five pixels in Go
		{2, 4, 9, 48, 3, 2, 3},  // three channel blocks, one pixel in Go
		{1, 2, 7, 64, 3, 2, 3},  // fewer pixels than a group
		{1, 3, 10, 20, 3, 2, 3}, // channels not a multiple of 16: Go only
		{1, 3, 10, 16, 5, 1, 2}, // another geometry: Go only
	} {
		s := Shape{N: c.n, C: c.ch, K: c.k, S: c.s, OH: c.oh, OW: c.ow, O: c.o}
		s.HP, s.WP = (c.oh-1)*c.s+c.k, (c.ow-1)*c.s+c.k+1 // one spare column
		t.Run(fmt.Sprint(s.String(), " supported=", Supported(s)), func(t *testing.T) {
			x := make([]float32, s.N*s.HP*s.WP*s.C)
			w := make([]float32, s.K*s.K*s.C*s.O)
			for i := range x {
				x[i] = float32(rnd.NormFloat64())
			}
			for i := range w {
				w[i] = float32(rnd.NormFloat64())
			}
			out := make([]float32, s.N*s.OH*s.OW*s.O)
			for i := range out {
				out[i] = float32(math.NaN()) // every output must be written
			}
			s.Rows(out, x, w, s.Offsets(nil), 0, s.N*s.OH)
			want := reference(s, x, w)
			for i, v := range want {
				require.InDelta(t, v, float64(out[i]), 1e-5*max(1, math.Abs(v)), "element %d", i)
			}
		})
	}
}

func TestRowsPanicsOnShortSlices(t *testing.T) {
	s := Shape{N: 1, HP: 5, WP: 5, C: 3, K: 3, S: 2, OH: 2, OW: 2, O: 16}
	require.Panics(t, func() { s.Rows(make([]float32, 10), make([]float32, 75), make([]float32, 27*16), s.Offsets(nil), 0, 2) })
	bad := s
	bad.OW = 3 // windows past the padded input
	require.Panics(t, func() {
		bad.Rows(make([]float32, 96), make([]float32, 75), make([]float32, 27*16), bad.Offsets(nil), 0, 2)
	})
}

// BenchmarkStem times B0's stem at batch 8, 224 px on one goroutine (the
// input padded by one on every side, 226×226; the kernel reads 225 of it).
func BenchmarkStem(b *testing.B) {
	s := Shape{N: 8, HP: 226, WP: 226, C: 3, K: 3, S: 2, OH: 112, OW: 112, O: 32}
	x := make([]float32, s.N*s.HP*s.WP*s.C)
	w := make([]float32, 27*32)
	out := make([]float32, s.N*s.OH*s.OW*s.O)
	offs := s.Offsets(nil)
	b.ReportAllocs()
	for b.Loop() {
		s.Rows(out, x, w, offs, 0, s.N*s.OH)
	}
	flops := 2.0 * float64(len(out)) * 27
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
