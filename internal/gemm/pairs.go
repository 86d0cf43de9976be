package gemm

import "github.com/effnet-go/effnet/internal/parallel"

// Products with 24 or 40 columns (1×1 convolutions to or from 24 or 40
// channels: in B0 the forward project96to24 and project144to40 and the
// input gradients of expand24to144 and expand40to240) fill only 24 of 32
// or 40 of 48 columns of the 32-wide tiles, so at best 75 % or 83 % of
// their FMAs count. The pair kernels fill every lane by taking k steps in
// pairs; this file drives them.

// pairsKernel computes tiles of up to mr rows and n = 16·vecs+8 columns
// from A read in place by rows and a B packed by packPairs.
type pairsKernel struct {
	mr, vecs int
	// run computes tiles tiles of rows rows (rows < mr only for a single
	// tile) one below the other: tile t reads A at a[t·aStep:] (row
	// stride rsA, kc consecutive steps per row) and writes C from
	// c[t·mr·ldc:], alpha·A·B + beta·C; beta = 0 does not read C.
	run func(kc int, a []float32, rsA int, b []float32, c []float32, ldc int, alpha, beta float32, rows, tiles, aStep int)
}

// n is the number of columns the kernel computes.
func (pk *pairsKernel) n() int { return 16*pk.vecs + 8 }

// pairsFor returns k's pair kernel for an m×n product over kk steps, or
// nil when none applies: n must be its width, A read in place by rows
// (not transposed), k within one block, and the rows enough for a few
// tiles per core.
func (k *microKernel) pairsFor(transA bool, m, n, kk int) *pairsKernel {
	if transA || kk < 1 || kk > k.kc {
		return nil
	}
	for i := range k.pairs {
		if pk := &k.pairs[i]; pk.n() == n && m >= 8*pk.mr {
			return pk
		}
	}
	return nil
}

// pairsLen is the length of B packed by packPairs for kk steps.
func pairsLen(kk, vecs int) int { return kk/2*(32*vecs+16) + kk%2*(16*vecs+16) }

// packPairs packs the kk×(16·vecs+8) op(B) for a pair kernel: each pair of
// steps p, p+1 holds the first 16·vecs columns of p, those of p+1, then
// the last 8 columns of p and p+1 interleaved (p's in the even lanes); an
// odd last step holds its first 16·vecs columns, then its last 8 in the
// even lanes with zeros between.
func packPairs(dst []float32, vecs int, transB bool, b []float32, ldb, kk int) {
	at := func(p, j int) float32 {
		if transB {
			return b[j*ldb+p]
		}
		return b[p*ldb+j]
	}
	w := 16 * vecs
	dst = dst[:pairsLen(kk, vecs)]
	for p := 0; p < kk; p += 2 {
		d := dst[p/2*(2*w+16):]
		if p+1 == kk {
			for j := range w {
				d[j] = at(p, j)
			}
			for q := range 8 {
				d[w+2*q], d[w+2*q+1] = at(p, w+q), 0
			}
			break
		}
		for j := range w {
			d[j], d[w+j] = at(p, j), at(p+1, j)
		}
		for q := range 8 {
			d[2*w+2*q], d[2*w+2*q+1] = at(p, w+q), at(p+1, w+q)
		}
	}
}

// pairsTask is one call of sgemmPairs.
type pairsTask struct {
	pk          *pairsKernel
	m, kk       int
	alpha, beta float32
	a           []float32
	lda         int
	c           []float32
	ldc         int
	pb, edge    []float32
	epi         epiState
	hasEpi      bool
	blockFn     func(lo, hi int)
}

var pairsTasks cache[pairsTask]

// pairsBlock is the rows of C one unit of work computes before its
// epilogue, as sgemmSerial's mc: the block is still in L2 when the
// epilogue reads it. It is a multiple of every pair kernel's mr.
const pairsBlock = 144

// sgemmPairs computes an m×pk.n() product on the pair kernel pk (see
// pairsFor), then the epilogue e when not nil, with the arguments of
// sgemmEpi.
func sgemmPairs(pk *pairsKernel, workers int, transB bool, m, kk int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, e *Epilogue) {
	t := pairsTasks.get()
	if t == nil {
		t = new(pairsTask)
		t.blockFn = t.blocks
	}
	t.pk, t.m, t.kk, t.alpha, t.beta = pk, m, kk, alpha, beta
	t.a, t.lda, t.c, t.ldc = a, lda, c, ldc
	t.pb = grow(t.pb, pairsLen(kk, pk.vecs))
	packPairs(t.pb, pk.vecs, transB, b, ldb, kk)
	t.hasEpi = e != nil
	if t.hasEpi {
		t.epi.prepare(e, pk.n())
	}
	blocks := (m + pairsBlock - 1) / pairsBlock
	if workers > 1 && 2*m*pk.n()*kk >= minParallelFlops {
		parallel.For(blocks, 1, t.blockFn)
	} else {
		t.blocks(0, blocks)
	}
	if t.hasEpi {
		t.epi.finish()
	}
	t.pk, t.a, t.c = nil, nil, nil
	pairsTasks.put(t)
}

// blocks computes row blocks [lo, hi) of C.
func (t *pairsTask) blocks(lo, hi int) {
	mr, n := t.pk.mr, t.pk.n()
	for blk := lo; blk < hi; blk++ {
		r0 := blk * pairsBlock
		r1 := min(r0+pairsBlock, t.m)
		if full := (r1 - r0) / mr; full > 0 {
			t.pk.run(t.kk, t.a[r0*t.lda:], t.lda, t.pb, t.c[r0*t.ldc:], t.ldc, t.alpha, t.beta, mr, full, mr*t.lda)
		}
		if r := r0 + (r1-r0)/mr*mr; r < r1 {
			// The ragged last rows: only the last block has them, so
			// one scratch tile per call serves. The kernel reads mr
			// rows; the ones past the end are zero.
			t.edge = grow(t.edge, mr*t.kk)
			clear(t.edge)
			for i := r; i < r1; i++ {
				copy(t.edge[(i-r)*t.kk:(i-r+1)*t.kk], t.a[i*t.lda:i*t.lda+t.kk])
			}
			t.pk.run(t.kk, t.edge, t.kk, t.pb, t.c[r*t.ldc:], t.ldc, t.alpha, t.beta, r1-r, 1, 0)
		}
		if t.hasEpi {
			v := t.epi.view(r0, 0, t.ldc)
			v.apply(t.c[r0*t.ldc:], t.ldc, 0, r1-r0, 0, n)
		}
	}
}
