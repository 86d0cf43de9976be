package gemm

import "github.com/effnet-go/effnet/internal/parallel"

// Products with 24 columns (1×1 convolutions to or from 24 channels: B0's
// project96to24 forward and expand24to144 input gradient) fill only 24 of
// the 32 columns of the 12×32 tile, so at best 75 % of its FMAs count.
// The 24-column kernel (microKernel.pairs24) fills every lane by taking k
// steps in pairs; this file drives it.

// pairs24Pays reports whether an m×n product over kk steps runs on the
// 24-column kernel: n is 24, A is read in place by rows (not transposed),
// k fits one block and there are rows for at least a few tiles per core.
func pairs24Pays(k *microKernel, transA bool, m, n, kk int) bool {
	return k.pairs24 != nil && n == 24 && !transA && kk >= 1 && kk <= k.kc && m >= 96
}

// pairs24Len is the length of B packed by packPairs24 for kk steps.
func pairs24Len(kk int) int { return kk/2*48 + kk%2*32 }

// packPairs24 packs the kk×24 op(B) for the 24-column kernel: each pair of
// steps p, p+1 is 48 floats, columns 0-15 of p, columns 0-15 of p+1, then
// columns 16-23 of p and p+1 interleaved (p's in the even lanes); an odd
// last step is 32 floats, its columns 0-15, then its columns 16-23 in the
// even lanes with zeros between.
func packPairs24(dst []float32, transB bool, b []float32, ldb, kk int) {
	at := func(p, j int) float32 {
		if transB {
			return b[j*ldb+p]
		}
		return b[p*ldb+j]
	}
	dst = dst[:pairs24Len(kk)]
	for p := 0; p < kk; p += 2 {
		d := dst[p/2*48:]
		if p+1 == kk {
			for j := range 16 {
				d[j] = at(p, j)
			}
			for q := range 8 {
				d[16+2*q], d[17+2*q] = at(p, 16+q), 0
			}
			break
		}
		for j := range 16 {
			d[j], d[16+j] = at(p, j), at(p+1, j)
		}
		for q := range 8 {
			d[32+2*q], d[33+2*q] = at(p, 16+q), at(p+1, 16+q)
		}
	}
}

// pairsTask is one call of sgemmPairs24.
type pairsTask struct {
	k           *microKernel
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
// epilogue reads it.
const pairsBlock = 144

// sgemmPairs24 computes an m×24 product on the 24-column kernel (see
// pairs24Pays), then the epilogue e when not nil, with the arguments of
// sgemmEpi.
func sgemmPairs24(k *microKernel, transB bool, m, kk int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, e *Epilogue) {
	t := pairsTasks.get()
	if t == nil {
		t = new(pairsTask)
		t.blockFn = t.blocks
	}
	t.k, t.m, t.kk, t.alpha, t.beta = k, m, kk, alpha, beta
	t.a, t.lda, t.c, t.ldc = a, lda, c, ldc
	t.pb = grow(t.pb, pairs24Len(kk))
	packPairs24(t.pb, transB, b, ldb, kk)
	t.hasEpi = e != nil
	if t.hasEpi {
		t.epi.prepare(e, 24)
	}
	parallel.For((m+pairsBlock-1)/pairsBlock, 1, t.blockFn)
	if t.hasEpi {
		t.epi.finish()
	}
	t.a, t.c = nil, nil
	pairsTasks.put(t)
}

// blocks computes row blocks [lo, hi) of C.
func (t *pairsTask) blocks(lo, hi int) {
	const mr = 12
	for blk := lo; blk < hi; blk++ {
		r0 := blk * pairsBlock
		r1 := min(r0+pairsBlock, t.m)
		if full := (r1 - r0) / mr; full > 0 {
			t.k.pairs24(t.kk, t.a[r0*t.lda:], t.lda, t.pb, t.c[r0*t.ldc:], t.ldc, t.alpha, t.beta, mr, 24, full, mr*t.lda)
		}
		if r := r0 + (r1-r0)/mr*mr; r < r1 {
			// The ragged last rows: only the last block has them, so
			// one scratch tile per call serves. The kernel reads 12
			// rows; the ones past the end are zero.
			t.edge = grow(t.edge, mr*t.kk)
			clear(t.edge)
			for i := r; i < r1; i++ {
				copy(t.edge[(i-r)*t.kk:(i-r+1)*t.kk], t.a[i*t.lda:i*t.lda+t.kk])
			}
			t.k.pairs24(t.kk, t.edge, t.kk, t.pb, t.c[r*t.ldc:], t.ldc, t.alpha, t.beta, r1-r, 24, 1, 0)
		}
		if t.hasEpi {
			v := t.epi.view(r0, 0, t.ldc)
			v.apply(t.c[r0*t.ldc:], t.ldc, 0, r1-r0, 0, 24)
		}
	}
}
