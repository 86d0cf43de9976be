package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// problem is one random Gemm call with strided operands.
type problem struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
}

func (p problem) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%v beta=%v lda=%d ldb=%d ldc=%d",
		p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.beta, p.lda, p.ldb, p.ldc)
}

// newProblem builds operands whose slices end exactly at the last element
// they may touch, with leading dimensions padded by up to pad elements.
// With beta == 0 C starts as NaN, which any read of C would propagate.
func newProblem(rnd *rand.Rand, transA, transB bool, m, n, k int, alpha, beta float32, pad int) problem {
	p := problem{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta}
	rowsA, colsA := m, k
	if transA {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if transB {
		rowsB, colsB = n, k
	}
	p.lda = max(1, colsA) + rnd.IntN(pad+1)
	p.ldb = max(1, colsB) + rnd.IntN(pad+1)
	p.ldc = max(1, n) + rnd.IntN(pad+1)
	fill := func(rows, cols, ld int) []float32 {
		if rows == 0 || cols == 0 {
			return nil
		}
		return normals(rnd, (rows-1)*ld+cols)
	}
	p.a = fill(rowsA, colsA, p.lda)
	p.b = fill(rowsB, colsB, p.ldb)
	p.c = fill(m, n, p.ldc)
	if beta == 0 {
		for i := range p.c {
			p.c[i] = float32(math.NaN())
		}
	}
	return p
}

func (p problem) at(x []float32, ld int, trans bool, i, j int) float64 {
	if trans {
		i, j = j, i
	}
	return float64(x[i*ld+j])
}

// check runs got = sgemm(...) on a copy of p.c and compares it with a
// float64 triple loop. Each element must be within
//
//	(k+4)·2⁻²⁴ · (|alpha|·Σ_p |a_ip·b_pj| + |beta·c_ij|)
//
// of the exact result: the worst-case rounding bound of a length-k float32
// dot product (k roundings of unit 2⁻²⁴, FMA or not, in any order), plus the
// alpha and beta products, the final sum and the addition of partial
// products when k is split. It holds for every input, so the test cannot
// flake, while an indexing or packing error gives relative errors near 1.
// Entries of c outside the m×n block (the ldc padding) must be untouched.
func check(t *testing.T, kern *microKernel, workers int, p problem) {
	t.Helper()
	got := append([]float32(nil), p.c...)
	sgemm(kern, workers, p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, got, p.ldc)
	const u = 0x1p-24
	for i := 0; i < p.m; i++ {
		for j := 0; j < p.n; j++ {
			var sum, mag float64
			for q := 0; q < p.k; q++ {
				v := p.at(p.a, p.lda, p.transA, i, q) * p.at(p.b, p.ldb, p.transB, q, j)
				sum += v
				mag += math.Abs(v)
			}
			want := float64(p.alpha) * sum
			bound := math.Abs(float64(p.alpha)) * mag
			if p.beta != 0 {
				cij := float64(p.c[i*p.ldc+j])
				want += float64(p.beta) * cij
				bound += math.Abs(float64(p.beta) * cij)
			}
			tol := float64(p.k+4) * u * bound
			g := float64(got[i*p.ldc+j])
			if math.IsNaN(g) || math.Abs(g-want) > tol {
				require.Failf(t, "wrong element", "%s kernel=%s workers=%d: c[%d,%d] = %v, want %v ± %v",
					p, kern.name, workers, i, j, g, want, tol)
			}
		}
		for j := p.n; j < p.ldc && i < p.m-1; j++ {
			idx := i*p.ldc + j
			if math.Float32bits(got[idx]) != math.Float32bits(p.c[idx]) {
				require.Failf(t, "padding written", "%s kernel=%s: c[%d] changed", p, kern.name, idx)
			}
		}
	}
}

var scalars = [][2]float32{{1, 0}, {1, 1}, {-0.5, 0}, {2, -1.5}, {0.75, 0.25}}

// TestKernelsSmall covers every transpose combination and edge shape with
// every kernel this build runs, serially and split.
func TestKernelsSmall(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	dims := []int{1, 2, 3, 5, 6, 7, 11, 12, 13, 16, 17, 31, 32, 33, 47}
	for _, kern := range kernels() {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for range 60 {
					m := dims[rnd.IntN(len(dims))]
					n := dims[rnd.IntN(len(dims))]
					k := dims[rnd.IntN(len(dims))]
					s := scalars[rnd.IntN(len(scalars))]
					p := newProblem(rnd, tA, tB, m, n, k, s[0], s[1], 3)
					check(t, kern, 1, p)
				}
			}
		}
	}
}

// TestKernelsBlocked uses shapes larger than the blocking sizes so that
// every loop of the blocked driver runs more than once and ends ragged, and
// shapes that take every parallel split.
func TestKernelsBlocked(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	type shape struct{ m, n, k int }
	shapes := []shape{
		{300, 70, 600}, // k > kc twice, m > mc
		{37, 2100, 20}, // n > nc
		{1, 500, 300},  // m = 1
		{400, 1, 300},  // n = 1
		{700, 40, 64},  // split M
		{12, 300, 200}, // split N
		{12, 16, 5000}, // split K
		{24, 40, 3000}, // split K with 3 workers
		{4, 4, 40000},  // split K for any tile size
		{150, 97, 1},   // k = 1
		{97, 130, 517}, // odd everything
		{6000, 24, 96}, // a B0-like skinny product, split M dynamically
	}
	seen := map[splitKind]bool{}
	for _, kern := range kernels() {
		for _, sh := range shapes {
			for _, workers := range []int{1, 2, 3} {
				tA, tB := rnd.IntN(2) == 0, rnd.IntN(2) == 0
				s := scalars[rnd.IntN(len(scalars))]
				p := newProblem(rnd, tA, tB, sh.m, sh.n, sh.k, s[0], s[1], 5)
				split, _ := chooseSplit(kern, workers, sh.m, sh.n, sh.k)
				seen[split] = true
				check(t, kern, workers, p)
			}
		}
	}
	for _, s := range []splitKind{splitNone, splitM, splitMDynamic, splitN, splitK} {
		require.True(t, seen[s], "split %d never exercised", s)
	}
}

// TestMSplitPacksWholeB checks M splits with a transposed B, whose workers
// each pack all of op(B) (see task.runRows): k over two blocks and n over
// one column block of the AVX-512 and AVX2 kernels (nc = 2048), so that
// packedOffset places more than one block. Kernels that split such a
// product another way are skipped, but every shape must be run by some.
func TestMSplitPacksWholeB(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 12))
	for _, sh := range []struct{ m, n, k, workers int }{{700, 70, 1100, 3}, {200, 2060, 520, 2}} {
		ran := 0
		for _, kern := range kernels() {
			split, _ := chooseSplit(kern.fit(sh.m, sh.n), sh.workers, sh.m, sh.n, sh.k)
			if split != splitM && split != splitMDynamic {
				continue
			}
			ran++
			s := scalars[rnd.IntN(len(scalars))]
			check(t, kern, sh.workers, newProblem(rnd, rnd.IntN(2) == 0, true, sh.m, sh.n, sh.k, s[0], s[1], 3))
		}
		require.NotZero(t, ran, "no kernel splits %v by rows", sh)
	}
}

// TestZeroK checks the k = 0 and alpha = 0 cases: C = beta·C, and beta = 0
// must clear C even when it holds NaN.
func TestZeroK(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	for _, kern := range kernels() {
		for _, s := range [][2]float32{{1, 0}, {1, 2}, {0, 0}, {0, -1}} {
			for _, k := range []int{0, 7} {
				alpha := s[0]
				if k == 0 {
					alpha = 1
				}
				p := newProblem(rnd, false, true, 9, 13, k, alpha, s[1], 2)
				check(t, kern, 2, p)
			}
		}
	}
}

// TestFastMatchesFallback compares each assembly kernel with the portable
// Go kernel on the same inputs. Both compute every element as a k-long
// float32 sum, so they agree within twice the rounding bound of check.
func TestFastMatchesFallback(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	for _, kern := range kernels() {
		if kern == &goKernel {
			continue
		}
		for range 20 {
			m, n, k := 1+rnd.IntN(200), 1+rnd.IntN(200), 1+rnd.IntN(400)
			p := newProblem(rnd, rnd.IntN(2) == 0, rnd.IntN(2) == 0, m, n, k, 1.5, 0.5, 4)
			fast := append([]float32(nil), p.c...)
			slow := append([]float32(nil), p.c...)
			sgemm(kern, 2, p.transA, p.transB, m, n, k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, fast, p.ldc)
			sgemm(&goKernel, 1, p.transA, p.transB, m, n, k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, slow, p.ldc)
			for i := range m {
				for j := range n {
					var mag float64
					for q := range k {
						mag += math.Abs(p.at(p.a, p.lda, p.transA, i, q) * p.at(p.b, p.ldb, p.transB, q, j))
					}
					mag = float64(p.alpha)*mag + math.Abs(float64(p.beta*p.c[i*p.ldc+j]))
					tol := 2 * float64(k+4) * 0x1p-24 * mag
					d := math.Abs(float64(fast[i*p.ldc+j]) - float64(slow[i*p.ldc+j]))
					require.LessOrEqual(t, d, tol, "%s kernel=%s c[%d,%d]", p, kern.name, i, j)
				}
			}
		}
	}
}

// TestGemm goes through the exported entry point for both element types.
func TestGemm(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 10))
	p := newProblem(rnd, true, false, 33, 45, 70, 1, 0.5, 3)
	got := append([]float32(nil), p.c...)
	Gemm(p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, got, p.ldc)
	want := append([]float32(nil), p.c...)
	sgemm(&goKernel, 1, p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, want, p.ldc)
	// Same bound as TestFastMatchesFallback with |a|,|b|,|c| ~ 1: the
	// entries are N(0,1) products summed 70 times, so Σ|a·b| stays below
	// 200 and 2·74·2⁻²⁴·200 < 2e-3.
	require.InDeltaSlice(t, want, got, 2e-3)

	a := []float64{1, 2, 3, 4, 5, 6}    // 2×3
	b := []float64{1, 0, 0, 1, 1, 1}    // 3×2
	c := []float64{math.NaN(), 0, 0, 0} // beta = 0 ignores the NaN
	Gemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2)
	// Small integers: float64 arithmetic is exact.
	require.Equal(t, []float64{4, 5, 10, 11}, c)
}

func TestGemmPanicsOnShortSlice(t *testing.T) {
	require.Panics(t, func() {
		Gemm(false, false, 2, 2, 2, float32(1), make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
	})
}

// TestSteadyStateAllocs checks that a serial call allocates nothing once the
// workspace pool is warm, and that a parallel call does too: its parts run
// on internal/parallel's persistent pool through a method value made once.
func TestSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	rnd := rand.New(rand.NewPCG(11, 12))
	p := newProblem(rnd, false, true, 600, 96, 64, 1, 0, 0)
	kern := kernels()[0]
	serial := testing.AllocsPerRun(20, func() {
		sgemm(kern, 1, false, true, p.m, p.n, p.k, 1, p.a, p.lda, p.b, p.ldb, 0, p.c, p.ldc)
	})
	require.Zero(t, serial)
	parallel := testing.AllocsPerRun(20, func() {
		sgemm(kern, 2, false, true, p.m, p.n, p.k, 1, p.a, p.lda, p.b, p.ldb, 0, p.c, p.ldc)
	})
	// A GC emptying the pools during the run may add a refill, hence the
	// slack of one allocation.
	require.LessOrEqual(t, parallel, 1.0)
}

// TestPackA checks packA's layout against its definition for every kernel,
// both orientations, at step counts around the 16-step blocks of the
// vector packing. Packing copies, so the results must be equal.
func TestPackA(t *testing.T) {
	rnd := rand.New(rand.NewPCG(13, 14))
	for _, kern := range kernels() {
		mr := kern.mr
		for _, transA := range []bool{false, true} {
			for _, kc := range []int{1, 15, 16, 17, 40, 512} {
				for _, mc := range []int{mr, 2*mr + 1, 5} {
					const i0, p0, m, k = 3, 2, 60, 600
					lda := k + 1
					if transA {
						lda = m + 1
					}
					a := normals(rnd, 700*lda)
					panels := (mc + mr - 1) / mr
					got := make([]float32, panels*mr*kc)
					for i := range got {
						got[i] = float32(math.NaN())
					}
					packA(kern, transA, a, lda, i0, p0, mc, kc, got)
					want := make([]float32, len(got))
					for i := range mc {
						for p := range kc {
							v := a[(i0+i)*lda+p0+p]
							if transA {
								v = a[(p0+p)*lda+i0+i]
							}
							want[i/mr*mr*kc+p*mr+i%mr] = v
						}
					}
					require.Equal(t, want, got, "kernel=%s transA=%v kc=%d mc=%d", kern.name, transA, kc, mc)
				}
			}
		}
	}
}

// TestSwappedProducts covers the products sgemm computes as their
// transpose (small C, long k, tiles filled better that way; see
// swapPays): every transpose combination and the scalars, with padded
// leading dimensions, serially and split, against the same bound as every
// other product. The shapes are the weight gradients of B0's 1×1
// convolutions that swap.
func TestSwappedProducts(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	swapped := 0
	for _, kern := range kernels() {
		for _, sh := range [][3]int{{144, 24, 9000}, {13, 40, 5000}, {240, 40, 5000}, {96, 16, 5000}} {
			if !swapPays(kern, sh[0], sh[1], sh[2]) {
				continue // the Go kernel's 4×4 tile fills both ways
			}
			swapped++
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					s := scalars[rnd.IntN(len(scalars))]
					p := newProblem(rnd, tA, tB, sh[0], sh[1], sh[2], s[0], s[1], 3)
					check(t, kern, 1+rnd.IntN(2), p)
				}
			}
		}
		require.False(t, swapPays(kern, 24, 144, 9000), "the already well-tiled orientation stays")
	}
	if swapped == 0 {
		t.Skip("no kernel of this build swaps these shapes (the Go kernel's 4×4 tile fills both ways)")
	}
}

// TestFit checks which kernel runs the products with 40 and 16 rows or 16
// columns, directly or swapped, and that every other B0 shape keeps the
// 12-row tile.
func TestFit(t *testing.T) {
	k := kernels()[0]
	if k.narrow == nil {
		t.Skip("this build's fastest kernel has no narrow sibling")
	}
	assert.Same(t, k.narrow, k.fit(40, 144), "dW/project144to40: 10-row tiles fill all 40 rows")
	assert.Same(t, k.narrow, k.fit(40, 240), "dW/expand40to240, swapped")
	assert.True(t, swapPays(k, 240, 40, 6272), "dW/expand40to240 swaps to 40 rows")
	assert.Same(t, k.narrow.narrow, k.fit(16, 96), "16 rows: 8-row tiles")
	if k.cols16 != nil {
		assert.Same(t, k.cols16, k.fit(96, 16), "dW/expand16to96: 24×16 tiles")
		assert.Same(t, k.cols16, k.fit(100352, 16), "dX/expand16to96: 24×16 tiles")
		assert.False(t, swapPays(k, 96, 16, 100352), "dW/expand16to96 runs as it is")
	}
	assert.False(t, swapPays(k, 24, 96, 25088), "dW/project96to24 fills full tiles as it is")
	for _, m := range []int{100352, 25088, 6272, 1568, 392, 96, 144, 240, 24} {
		assert.Same(t, k, k.fit(m, 96), "m = %d", m)
	}
}

// TestCols16 runs products that fit gives to the 16-column kernel, in the
// layouts whose loops prefetch: A's rows in place and contiguous (dX = dY·W
// with lda = k) and A transposed in place with long k (dW = dYᵀ·X), with
// ragged rows and columns, serially and split.
func TestCols16(t *testing.T) {
	k := kernels()[0]
	if k.cols16 == nil {
		t.Skip("this build's fastest kernel has no 16-column sibling")
	}
	rnd := rand.New(rand.NewPCG(11, 12))
	for _, sh := range []struct {
		transA  bool
		m, n, k int
	}{
		{false, 1000, 16, 96}, // dX/expand16to96
		{false, 999, 13, 40},
		{false, 300, 16, 700}, // k over kc: rows no longer contiguous per block
		{true, 96, 16, 5003},  // dW/expand16to96: the tiles sweep the next k block
		{true, 70, 16, 3001},
	} {
		require.Same(t, k.cols16, k.fit(sh.m, sh.n), "%+v", sh)
		require.False(t, swapPays(k, sh.m, sh.n, sh.k), "%+v", sh)
		for _, workers := range []int{1, 2} {
			for _, s := range scalars {
				check(t, k, workers, newProblem(rnd, sh.transA, false, sh.m, sh.n, sh.k, s[0], s[1], 0))
			}
		}
	}
}

// TestNonTemporalStores runs products whose C is large enough to be stored
// non-temporally (see streams), with ragged last rows and a half-width last
// column panel so that whole tiles take the non-temporal kernel and edge
// tiles the ordinary one, serially and split, against the bound of check;
// and a product whose whole tiles run a row of tiles at a time.
func TestNonTemporalStores(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a 34 MB C")
	}
	rnd := rand.New(rand.NewPCG(11, 12))
	// 144 columns run a column panel at a time (a half-width last panel);
	// 96 columns with k = 16 run a row of tiles at a time (see rowWise).
	for _, s := range []struct {
		n, k   int
		byRows bool
	}{{144, 8, false}, {96, 16, true}} {
		m := ntMinBytes/(4*s.n) + 29
		for _, kern := range kernels() {
			for _, tB := range []bool{false, true} {
				p := newProblem(rnd, false, tB, m, s.n, s.k, 1, 0, 0)
				if kern.runNT != nil {
					require.True(t, streams(kern, m, s.k, 0, p.ldc, false), "%s does not stream this C", kern.name)
					require.Equal(t, s.byRows, s.n%kern.nr == 0 && rowWise(s.n, s.k))
				}
				check(t, kern, 1+rnd.IntN(2), p)
			}
		}
	}
}

// TestRunTilesMatchesRun checks that a kernel's runTiles over several tiles
// writes exactly what run writes tile by tile, for every A layout of
// tileLayouts, with beta 0 and 1 and ragged columns. Both do the same
// float32 operations in the same order, so they agree bit for bit.
func TestRunTilesMatchesRun(t *testing.T) {
	rnd := rand.New(rand.NewPCG(13, 14))
	for _, kern := range kernels() {
		if kern.runTiles == nil {
			continue
		}
		mr, nr := kern.mr, kern.nr
		for _, kc := range []int{1, 7, 16, 33} {
			for _, cols := range []int{nr, nr - 5, nr / 2, 3} {
				for _, beta := range []float32{0, 1} {
					const tiles = 4
					width := kern.panelWidth(cols)
					b := normals(rnd, kc*width)
					a, layouts := tileLayouts(t, rnd, mr, kc, tiles)
					for _, l := range layouts {
						ldc := cols + 2
						c0 := normals(rnd, tiles*mr*ldc)
						want := append([]float32(nil), c0...)
						got := append([]float32(nil), c0...)
						runByTile(kern, kc, a, l, b, width, want, ldc, 1, beta, cols, tiles)
						kern.runTiles(kc, a, l.rsA, l.csA, b, width, got, ldc, 1, beta, cols, tiles, l.aStep)
						require.Equal(t, want, got, "%s kc=%d cols=%d beta=%v A %s", kern.name, kc, cols, beta, l.name)
					}
				}
			}
		}
	}
}

// TestRunNTMatchesRun checks that a kernel's non-temporal runNT writes
// exactly what run writes tile by tile, for every A layout of tileLayouts,
// one to three column panels read from packed B or from rows of B, with
// alpha 1 and not, over k from 1 step to several unrolled iterations: the
// AVX-512 one computes each tile in two halves and stores a half while the
// next computes, a row every other step of its first iterations, the rest
// at once when k is too short to carry them, and moves across the panels
// of a row of tiles before the next row. Both do the same float32
// operations in the same order, so they agree bit for bit.
func TestRunNTMatchesRun(t *testing.T) {
	rnd := rand.New(rand.NewPCG(17, 18))
	for _, kern := range kernels() {
		if kern.runNT == nil {
			continue
		}
		mr, nr := kern.mr, kern.nr
		for _, kc := range []int{1, 3, 4, 5, 8, 9, 12, 13, 16, 24, 33} {
			for _, tiles := range []int{1, 2, 3, 5} {
				for _, panels := range []int{1, 2, 3} {
					for _, alpha := range []float32{1, 0.5} {
						a, layouts := tileLayouts(t, rnd, mr, kc, tiles)
						// B packed a panel after the other, or read in
						// place from rows wider than the panels.
						bLayouts := []struct {
							name       string
							csB, bStep int
							floats     int
						}{
							{"packed", nr, kc * nr, panels * kc * nr},
							{"rows", panels*nr + 8, nr, kc * (panels*nr + 8)},
						}
						ldc := 16 * (2*panels + 1) // 64-byte aligned rows, wider than the panels
						for _, bl := range bLayouts {
							b := normals(rnd, bl.floats)
							for _, l := range layouts {
								// Random C: beta = 0 must not read it.
								want := alignedFloats(tiles * mr * ldc)
								got := alignedFloats(tiles * mr * ldc)
								copy(want, normals(rnd, len(want)))
								copy(got, want)
								for q := range panels {
									runByTile(kern, kc, a, l, b[q*bl.bStep:], bl.csB, want[q*nr:], ldc, alpha, 0, nr, tiles)
								}
								kern.runNT(kc, a, l.rsA, l.csA, b, bl.csB, got, ldc, alpha, tiles, l.aStep, panels, bl.bStep)
								kern.fence()
								require.Equal(t, want, got, "%s kc=%d tiles=%d panels=%d alpha=%v A %s B %s", kern.name, kc, tiles, panels, alpha, l.name, bl.name)
							}
						}
					}
				}
			}
		}
	}
}

// runByTile computes tiles whole-row tiles of C one kern.run call each,
// reading A in layout l: what runTiles and runNT must write bit for bit.
func runByTile(kern *microKernel, kc int, a []float32, l tileLayout, b []float32, csB int, c []float32, ldc int, alpha, beta float32, cols, tiles int) {
	for tile := range tiles {
		kern.run(kc, a[tile*l.aStep:], l.rsA, l.csA, b, csB, c[tile*kern.mr*ldc:], ldc, alpha, beta, kern.mr, cols)
	}
}

// tileLayout is a way of reading A in place or packed for tiles of mr
// rows: the rows, steps and tiles of A are rsA, csA and aStep floats apart.
type tileLayout struct {
	name            string
	rsA, csA, aStep int
}

// tileLayouts returns random floats for A and the layouts in which the
// kernels read tiles tiles of mr rows and kc steps from them: packed
// panels (aStep = mr·kc), in place by rows (aStep = mr·lda), in place
// transposed (aStep = mr), and transposed with the tiles covering whole
// rows of A (csA = tiles·mr, where the 24×16 kernel sweeps the next k
// block).
func tileLayouts(t *testing.T, rnd *rand.Rand, mr, kc, tiles int) ([]float32, []tileLayout) {
	lda := kc + 3
	a := normals(rnd, tiles*mr*lda+mr*kc*tiles)
	layouts := []tileLayout{
		{"packed", 1, mr, mr * kc},
		{"rows", lda, 1, mr * lda},
		{"transposed", 1, tiles*mr + 1, mr},
		{"transposed whole rows", 1, tiles * mr, mr},
	}
	for _, l := range layouts {
		// a is sized for every layout: a layout that did not fit would
		// be a broken test, not a case to skip.
		require.Less(t, l.aStep*(tiles-1)+(mr-1)*l.rsA+(kc-1)*l.csA, len(a), "A layout %s", l.name)
	}
	return a, layouts
}

// normals returns n standard normal floats.
func normals(rnd *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rnd.NormFloat64())
	}
	return x
}

// alignedFloats returns n floats starting on a 64-byte boundary.
func alignedFloats(n int) []float32 {
	x := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&x[0]))%64) / 4
	return x[(16-off)%16:][:n]
}

// TestPairs runs products with 24 and 40 columns on the pair kernels (see
// pairsFor): even and odd k (the odd last step has its own packing),
// ragged last row tiles, both orientations of B, the scalars, padded
// leading dimensions and every epilogue, serially and split, against the
// bound of check.
func TestPairs(t *testing.T) {
	kern := kernels()[0]
	if len(kern.pairs) == 0 {
		t.Skip("no pair kernels in this build or on this CPU")
	}
	rnd := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{24, 40} {
		for _, m := range []int{96, 97, 107, 145, 301, 2000} {
			for _, k := range []int{1, 2, 3, 16, 95, 144, 512} {
				pk := kern.pairsFor(false, m, n, k)
				require.NotNil(t, pk, "m=%d n=%d k=%d", m, n, k)
				require.Equal(t, n, pk.n())
				tB := rnd.IntN(2) == 0
				s := scalars[rnd.IntN(len(scalars))]
				p := newProblem(rnd, false, tB, m, n, k, s[0], s[1], 3)
				check(t, kern, 1+rnd.IntN(2), p)
			}
		}
		for _, ec := range epiCases {
			for _, tB := range []bool{false, true} {
				p := newProblem(rnd, false, tB, 301, n, 96, 1, 0, 5)
				checkEpilogueCall(t, kern, 2, p, ec, rnd)
			}
		}
		require.Nil(t, kern.pairsFor(true, 2000, n, 96), "transposed A is not read by rows")
		require.Nil(t, kern.pairsFor(false, 2000, n, 600), "k beyond one block")
	}
	require.Nil(t, kern.pairsFor(false, 2000, 32, 96), "32 columns fill the ordinary tile")
}
