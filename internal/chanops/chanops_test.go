package chanops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

const u = 1.0 / (1 << 24) // float32 unit roundoff

func randSlice(rnd *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rnd.Float64()*2 - 1)
	}
	return v
}

// shapes are row counts and widths that cover empty inputs, every ragged
// tail of both vector widths, each chunk size of the sums (8, 4, 2 and 1
// vectors) and more rows than one summing block.
var shapes = func() [][2]int {
	var s [][2]int
	for C := 1; C <= 40; C++ {
		s = append(s, [2]int{C % 7 * 3, C})
	}
	for _, C := range []int{48, 64, 127, 128, 129, 240, 1152} {
		s = append(s, [2]int{1 + C%5, C}, [2]int{300, C})
	}
	return append(s, [2]int{600, 33}, [2]int{0, 16})
}()

// TestAgainstReference checks every implementation against float64 sums.
// A sum of n float32 terms added in any order is within n·u·Σ|terms| of
// the exact sum (Higham §4.2); the kernels sum in blocks of at most 256
// rows and then add the block sums, so n is min(rows, 256) plus the number
// of blocks, plus one for the addition into the caller's value. The row
// passes round once or twice per element (FMA or multiply then add).
func TestAgainstReference(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, im := range available() {
		for _, sh := range shapes {
			rows, C := sh[0], sh[1]
			name := fmt.Sprintf("%s/%dx%d", im.name, rows, C)
			x, y := randSlice(rnd, rows*C), randSlice(rnd, rows*C)
			g, a := randSlice(rnd, C), randSlice(rnd, C)
			start := randSlice(rnd, C)
			n := float64(min(rows, sumBlock) + (rows+sumBlock-1)/sumBlock + 1)

			sums, dots := append([]float32(nil), start...), append([]float32(nil), start...)
			withImpl(im, func() {
				ColSums(sums, x)
				ColDots(dots, x, y)
			})
			for c := 0; c < C; c++ {
				ws, wd := float64(start[c]), float64(start[c])
				ms, md := math.Abs(ws), math.Abs(wd)
				for r := 0; r < rows; r++ {
					xv, yv := float64(x[r*C+c]), float64(y[r*C+c])
					ws += xv
					ms += math.Abs(xv)
					wd += xv * yv
					md += math.Abs(xv * yv)
				}
				require.InDelta(t, ws, sums[c], n*u*ms, "%s ColSums channel %d", name, c)
				require.InDelta(t, wd, dots[c], n*u*md, "%s ColDots channel %d", name, c)
			}

			scaled, shifted := make([]float32, len(x)), append([]float32(nil), x...)
			withImpl(im, func() {
				ScaleRows(scaled, x, g)
				ScaleAddRows(shifted, shifted, g, a) // in place
			})
			for i, v := range x {
				c := i % C
				p := float64(v) * float64(g[c])
				require.InDelta(t, p, scaled[i], u*math.Abs(p), "%s ScaleRows element %d", name, i)
				require.InDelta(t, p+float64(a[c]), shifted[i], 2*u*(math.Abs(p)+math.Abs(float64(a[c]))), "%s ScaleAddRows element %d", name, i)
			}
		}
	}
}

// withImpl runs f with best set to im. Tests in this package do not run
// in parallel, so swapping the package's choice is safe here.
func withImpl(im *impl, f func()) {
	saved := best
	best = im
	defer func() { best = saved }()
	f()
}

func TestLengthChecks(t *testing.T) {
	x := make([]float32, 12)
	require.Panics(t, func() { ColSums(make([]float32, 5), x) })
	require.Panics(t, func() { ColDots(make([]float32, 4), x, x[:8]) })
	require.Panics(t, func() { ScaleRows(x[:8], x, make([]float32, 4)) })
	require.Panics(t, func() { ScaleAddRows(x, x, make([]float32, 4), make([]float32, 3)) })
	require.Panics(t, func() { ColSums(nil, x) })
}

func TestAllocatesNothing(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	x, g := randSlice(rnd, 50*37), randSlice(rnd, 37)
	s := make([]float32, 37)
	allocs := testing.AllocsPerRun(10, func() {
		ColSums(s, x)
		ColDots(s, x, x)
		ScaleRows(x, x, g)
		ScaleAddRows(x, x, g, g)
	})
	require.Zero(t, allocs)
}

// The B0 squeeze-and-excitation maps at batch 8, 224 px, per sample: the
// rows of one sample are what one call covers in the layers.
var benchShapes = []struct {
	name    string
	rows, C int
}{
	{"112x112x32", 112 * 112, 32},
	{"56x56x144", 56 * 56, 144},
	{"28x28x240", 28 * 28, 240},
	{"14x14x672", 14 * 14, 672},
	{"7x7x1152", 7 * 7, 1152},
}

func BenchmarkPasses(b *testing.B) {
	for _, bs := range benchShapes {
		rnd := rand.New(rand.NewPCG(5, 6))
		x, y := randSlice(rnd, bs.rows*bs.C), randSlice(rnd, bs.rows*bs.C)
		g := randSlice(rnd, bs.C)
		s := make([]float32, bs.C)
		dst := make([]float32, len(x))
		for _, im := range available() {
			for _, pass := range []struct {
				name  string
				bytes int
				run   func()
			}{
				{"colsums", 4 * len(x), func() { ColSums(s, x) }},
				{"coldots", 8 * len(x), func() { ColDots(s, x, y) }},
				{"scalerows", 8 * len(x), func() { ScaleRows(dst, x, g) }},
				{"scaleaddrows", 8 * len(x), func() { ScaleAddRows(dst, x, g, g) }},
			} {
				b.Run(fmt.Sprintf("%s/%s/%s", bs.name, pass.name, im.name), func(b *testing.B) {
					withImpl(im, pass.run)
					for b.Loop() {
						withImpl(im, pass.run)
					}
					b.ReportMetric(float64(pass.bytes)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
				})
			}
		}
	}
}
