package gemm

// microKernel computes one register tile of C from a packed A micro-panel
// and a packed B micro-panel.
//
// The packed A micro-panel holds kc steps of mr floats (column p of the tile
// rows is contiguous); the packed B micro-panel holds kc steps of width
// floats, where width is panelWidth(cols) for a panel with cols valid
// columns. Padding lanes of both panels are zero.
type microKernel struct {
	name string
	// mr×nr is the register tile.
	mr, nr int
	// kc, mc and nc are the cache blocking sizes (see doc.go). mc is a
	// multiple of mr, nc a multiple of nr.
	kc, mc, nc int
	// direct reports whether run accepts unpacked operands: any row and
	// step stride for A, any step stride for B.
	direct bool
	// half reports whether a B panel with at most nr/2 valid columns is
	// packed nr/2 wide (the kernel then runs a half-width loop).
	half bool
	// run computes c[i*ldc+j] = alpha·(A·B)[i,j] + beta·c[i*ldc+j] for
	// i < rows ≤ mr and j < cols ≤ nr, where A[i,p] = a[i·rsA + p·csA]
	// and B[p,j] = b[p·csB + j]. A packed panel has rsA = 1, csA = mr and
	// csB = panelWidth(cols). beta == 0 must not read c.
	run func(kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc int, alpha, beta float32, rows, cols int)
	// transpose, when not nil, sets dst[(16q+p)·ldd + j] = src[j·lds + 16q+p]
	// for p, j < 16 and q < blocks: it packs 16 columns of a transposed B.
	transpose func(dst []float32, ldd int, src []float32, lds int, blocks int)
	// packA12, when not nil, packs 16·blocks steps of twelve rows of a
	// non-transposed A (row stride lda) into a 12-row micro-panel.
	packA12 func(dst, a []float32, lda int, blocks int)
	// narrow, when not nil, is a kernel like this one with fewer rows per
	// tile, for products whose row count it divides better (see fit); it
	// may have a narrower sibling in turn.
	narrow *microKernel
	// runTiles, when not nil, computes tiles whole tiles of mr rows (cols
	// columns) one below the other in one call, as run would one by one:
	// tile t reads A from a[t·aStep:] and writes C from c[t·mr·ldc:].
	runTiles func(kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc int, alpha, beta float32, cols, tiles, aStep int)
	// runNT, when not nil, computes whole tiles (cols = nr) with beta = 0
	// whose C rows start on 64-byte boundaries, writing C with
	// non-temporal stores; fence then orders those stores before later
	// ones. It runs tiles rows of tiles, panels tiles wide, a row at a
	// time: tile (r, q) reads A from a[r·aStep:] and B from b[q·bStep:]
	// and writes C from c[r·mr·ldc + q·nr:], as run would.
	runNT func(kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc int, alpha float32, tiles, aStep, panels, bStep int)
	fence func()
	// pairs lists the kernel's pair kernels, for products with 24 or 40
	// columns (see pairsKernel).
	pairs []pairsKernel
	// cols16, when not nil, is a kernel for products with at most 16
	// columns, which this one's tiles fill only by half (see fit).
	cols16 *microKernel
	// prefetch, when not nil, prefetches cols floats from each of rows
	// rows of a (row stride lda) into L2, as one run when the rows are
	// contiguous (see sgemmSerial).
	prefetch func(a []float32, lda, rows, cols int)
}

// fill is the fraction of the FMAs of an m×n product's register tiles that
// compute elements of C: rows round up to whole tiles of mr, columns to
// whole panels of nr or, for a narrow last panel, nr/2.
func (k *microKernel) fill(m, n int) float64 {
	rows := float64(m) / float64(roundUp(m, k.mr))
	full := n / k.nr * k.nr
	width := full
	if rest := n - full; rest > 0 {
		width += k.panelWidth(rest)
	}
	return rows * float64(n) / float64(width)
}

// fit returns the kernel, k or one of its narrower siblings, that runs an
// m×n product fastest: a sibling when its tiles fill at least a twentieth
// better, which outweighs its fewer accumulators per loaded B step (20 or
// 16 against 24 FMAs per 12 or 10 against 14 loads). Products with 40 rows
// fill 40 of 48 rows of 12-row tiles and all of 10-row ones; products with
// 16 rows fill all of 8-row ones. Products with at most 16 columns go to
// cols16 when its taller tiles fill their rows nearly as well (see rate):
// 16 columns run k's half-width loop.
func (k *microKernel) fit(m, n int) *microKernel {
	best := k
	for s := k.narrow; s != nil; s = s.narrow {
		if s.fill(m, n) >= 1.05*best.fill(m, n) {
			best = s
		}
	}
	if s := k.cols16; s != nil && n <= 16 && rate(s, m, n) >= 1.05*rate(best, m, n) {
		best = s
	}
	return best
}

// panelWidth is the packed width of a B micro-panel with cols valid columns.
func (k *microKernel) panelWidth(cols int) int {
	if k.half && cols <= k.nr/2 {
		return k.nr / 2
	}
	return k.nr
}

// goKernel is the portable kernel: a 4×4 register tile in plain Go. Sixteen
// scalar accumulators plus the four A and four B values fit the sixteen
// floating-point registers that amd64 and arm64 code can use without
// spilling most of them.
var goKernel = microKernel{
	name: "go4x4",
	mr:   4, nr: 4,
	kc: 256, mc: 128, nc: 1024,
	run: kernelGo4x4,
}

func kernelGo4x4(kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc int, alpha, beta float32, rows, cols int) {
	if rsA != 1 || csA != 4 || csB != 4 {
		panic("gemm: go4x4 kernel needs packed operands")
	}
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	a = a[:4*kc]
	b = b[:4*kc]
	for p := 0; p < kc; p++ {
		ap := a[4*p : 4*p+4 : 4*p+4]
		bp := b[4*p : 4*p+4 : 4*p+4]
		a0, a1, a2, a3 := ap[0], ap[1], ap[2], ap[3]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	acc := [16]float32{
		c00, c01, c02, c03,
		c10, c11, c12, c13,
		c20, c21, c22, c23,
		c30, c31, c32, c33,
	}
	storeTile(acc[:], 4, c, ldc, alpha, beta, rows, cols)
}

// storeTile writes c = alpha·t + beta·c for the rows×cols corner of the
// tile t (row stride ldt). beta == 0 overwrites c without reading it, so
// that NaN garbage in c does not leak into the result.
func storeTile(t []float32, ldt int, c []float32, ldc int, alpha, beta float32, rows, cols int) {
	for i := 0; i < rows; i++ {
		ti := t[i*ldt : i*ldt+cols]
		ci := c[i*ldc : i*ldc+cols]
		if beta == 0 {
			for j, v := range ti {
				ci[j] = alpha * v
			}
		} else {
			for j, v := range ti {
				ci[j] = alpha*v + beta*ci[j]
			}
		}
	}
}
