package gemm

import (
	"sync"
	"sync/atomic"

	"github.com/effnet-go/effnet/internal/parallel"
)

// workspace holds one worker's packing buffers, and, when the k dimension is
// split across workers, its private partial product.
type workspace struct {
	a, b, c []float32
}

// workspaces caches packing buffers across calls so that steady-state calls
// do not allocate. It is a cache only: every buffer is fully overwritten
// before it is read, so what it holds never changes a result.
var workspaces sync.Pool

// tasks caches the per-call bookkeeping of parallel calls (see workspaces).
var tasks sync.Pool

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// getWorkspace returns packing buffers large enough for an m×n×kk product.
// They are sized to the problem, not to the blocking sizes, so that small
// products do not pin megabytes.
func getWorkspace(k *microKernel, m, n, kk int) *workspace {
	w, _ := workspaces.Get().(*workspace)
	if w == nil {
		w = new(workspace)
	}
	kc := min(k.kc, kk)
	w.a = grow(w.a, min(k.mc, roundUp(m, k.mr))*kc)
	w.b = grow(w.b, kc*min(k.nc, roundUp(n, k.nr)))
	return w
}

func roundUp(x, to int) int { return (x + to - 1) / to * to }

// minParallelFlops is the smallest product worth splitting: starting and
// joining a goroutine costs a few microseconds, which is about a million
// floating-point operations at the kernel's speed.
const minParallelFlops = 1 << 20

type splitKind int

const (
	splitNone     splitKind = iota
	splitM                  // workers own disjoint row ranges of C
	splitMDynamic           // workers take row chunks of C from a shared counter
	splitN                  // workers own disjoint column ranges of C
	splitK                  // workers sum disjoint ranges of k; partial products are added at the end
)

// chooseSplit decides how to share the product among workers. Splitting M or
// N needs no synchronisation beyond the final join, so it is preferred when
// the register tiles divide evenly enough; otherwise, when k is long (the
// weight gradients of 1×1 convolutions: small C, k = batch·height·width), k
// is split and the partial products summed.
func chooseSplit(k *microKernel, workers, m, n, kk int) (splitKind, int) {
	if workers <= 1 || 2*m*n*kk < minParallelFlops {
		return splitNone, 1
	}
	tilesM := (m + k.mr - 1) / k.mr
	tilesN := (n + k.nr - 1) / k.nr
	// balance is the fraction of the slowest worker's time that the
	// average worker is busy when t tiles are shared by p workers.
	balance := func(t int) (float64, int) {
		p := min(workers, t)
		per := (t + p - 1) / p
		p = (t + per - 1) / per
		return float64(t) / float64(workers*per), p
	}
	bm, pm := balance(tilesM)
	bn, pn := balance(tilesN)
	// Splitting M keeps each worker's packed B shared by all its rows; it
	// wins ties because M is the long dimension of activations.
	best, kind, parts := bm, splitM, pm
	if bn > bm+0.05 {
		best, kind, parts = bn, splitN, pn
	}
	// Splitting k costs an extra m×n buffer and pass per worker, which is
	// negligible when k is long. It then also balances perfectly and lets
	// the workers read disjoint halves of A and B, where an M or N split
	// makes every worker stream all of one operand: the weight gradients
	// of 1×1 convolutions (small C, k = batch·height·width) are bound by
	// that memory traffic.
	if kk >= 4*k.kc*workers && (best < 0.9 || m*n <= 1<<16) {
		return splitK, workers
	}
	if parts <= 1 {
		return splitNone, 1
	}
	// With rows for several row blocks per chunk, deal the rows out in
	// chunks on demand, so that a worker slowed by other work on its core
	// (or a slower core) does not hold up the call. Each chunk repacks B,
	// hence the minimum chunk size.
	if kind == splitM && m >= dynamicChunks*workers*k.mc {
		return splitMDynamic, workers
	}
	return kind, parts
}

// task is one parallel call: the operands and each part's workspace.
type task struct {
	k              *microKernel
	transA, transB bool
	m, n, kk       int
	alpha, beta    float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	c              []float32
	ldc            int
	split          splitKind
	parts          int
	next           atomic.Int64 // next chunk for splitMDynamic
	ws             []*workspace
	// partsFn is the method value runParts, made once per pooled task so
	// that handing it to parallel.For does not allocate per call.
	partsFn func(lo, hi int)
}

// rangeOf returns part i's share [lo, hi) of t tiles of size s covering n.
func rangeOf(i, parts, t, s, n int) (lo, hi int) {
	per := (t + parts - 1) / parts
	lo = min(i*per*s, n)
	hi = min((i+1)*per*s, n)
	return lo, hi
}

// runParts runs parts [lo, hi).
func (t *task) runParts(lo, hi int) {
	for i := lo; i < hi; i++ {
		t.run(i)
	}
}

func (t *task) run(i int) {
	k, w := t.k, t.ws[i]
	switch t.split {
	case splitM:
		lo, hi := rangeOf(i, t.parts, (t.m+k.mr-1)/k.mr, k.mr, t.m)
		if lo < hi {
			sgemmSerial(k, w, t.transA, t.transB, lo, hi-lo, 0, t.n, 0, t.kk, t.alpha, t.a, t.lda, t.b, t.ldb, t.beta, t.c[lo*t.ldc:], t.ldc)
		}
	case splitMDynamic:
		chunks := dynamicChunks * t.parts
		tiles := (t.m + k.mr - 1) / k.mr
		for {
			ch := int(t.next.Add(1) - 1)
			if ch >= chunks {
				return
			}
			lo, hi := rangeOf(ch, chunks, tiles, k.mr, t.m)
			if lo < hi {
				sgemmSerial(k, w, t.transA, t.transB, lo, hi-lo, 0, t.n, 0, t.kk, t.alpha, t.a, t.lda, t.b, t.ldb, t.beta, t.c[lo*t.ldc:], t.ldc)
			}
		}
	case splitN:
		lo, hi := rangeOf(i, t.parts, (t.n+k.nr-1)/k.nr, k.nr, t.n)
		if lo < hi {
			sgemmSerial(k, w, t.transA, t.transB, 0, t.m, lo, hi-lo, 0, t.kk, t.alpha, t.a, t.lda, t.b, t.ldb, t.beta, t.c[lo:], t.ldc)
		}
	case splitK:
		// Parts hold whole multiples of 16 steps so that the kernel's
		// unrolled loop rarely runs its remainder.
		lo, hi := rangeOf(i, t.parts, (t.kk+15)/16, 16, t.kk)
		if i == 0 {
			if lo == hi {
				scale(t.m, t.n, t.beta, t.c, t.ldc)
				return
			}
			sgemmSerial(k, w, t.transA, t.transB, 0, t.m, 0, t.n, lo, hi-lo, t.alpha, t.a, t.lda, t.b, t.ldb, t.beta, t.c, t.ldc)
			return
		}
		w.c = grow(w.c, t.m*t.n)
		if lo == hi {
			clear(w.c)
			return
		}
		sgemmSerial(k, w, t.transA, t.transB, 0, t.m, 0, t.n, lo, hi-lo, t.alpha, t.a, t.lda, t.b, t.ldb, 0, w.c, t.n)
	}
}

// sgemm computes C = alpha·op(A)·op(B) + beta·C with kernel k on up to
// workers goroutines. Arguments are assumed valid (see Gemm).
func sgemm(k *microKernel, workers int, transA, transB bool, m, n, kk int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if kk == 0 || alpha == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	split, parts := chooseSplit(k, workers, m, n, kk)
	if split == splitNone {
		w := getWorkspace(k, m, n, kk)
		sgemmSerial(k, w, transA, transB, 0, m, 0, n, 0, kk, alpha, a, lda, b, ldb, beta, c, ldc)
		workspaces.Put(w)
		return
	}
	t, _ := tasks.Get().(*task)
	if t == nil {
		t = new(task)
		t.partsFn = t.runParts
	}
	t.next.Store(0)
	t.k, t.transA, t.transB, t.m, t.n, t.kk = k, transA, transB, m, n, kk
	t.alpha, t.beta, t.a, t.lda, t.b, t.ldb, t.c, t.ldc = alpha, beta, a, lda, b, ldb, c, ldc
	t.split, t.parts, t.ws = split, parts, t.ws[:0]
	for range parts {
		t.ws = append(t.ws, getWorkspace(k, m, n, kk))
	}
	parallel.For(parts, 1, t.partsFn)
	if split == splitK {
		for _, w := range t.ws[1:] {
			for i := range m {
				ci := c[i*ldc : i*ldc+n]
				for j, v := range w.c[i*n : i*n+n] {
					ci[j] += v
				}
			}
		}
	}
	for i, w := range t.ws {
		workspaces.Put(w)
		t.ws[i] = nil
	}
	// Drop references to the caller's matrices before caching.
	t.a, t.b, t.c, t.ws = nil, nil, nil, t.ws[:0]
	tasks.Put(t)
}

// scale sets C = beta·C; beta == 0 writes zeros without reading C.
func scale(m, n int, beta float32, c []float32, ldc int) {
	for i := range m {
		ci := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(ci)
			continue
		}
		if beta == 1 {
			continue
		}
		for j := range ci {
			ci[j] *= beta
		}
	}
}

// sgemmSerial computes the m×n block of C at c (leading dimension ldc) as
// alpha·op(A)[i0:i0+m, p0:p0+kk]·op(B)[p0:p0+kk, j0:j0+n] + beta·C, in the
// calling goroutine. This is the Goto/BLIS loop nest: B is packed per
// kc×nc block, A per mc×kc block, and the kernel walks the packed panels.
//
// Kernels that accept strided operands skip packing where it buys
// nothing: a full A panel is read in place when the block has at most
// directPanels column panels (each A panel is then read that few times, and
// the 1×1-convolution shapes with few output channels are bound by memory
// traffic that packing would double); a full B panel is read in place
// when B is not transposed and one row block covers all of C's rows.
func sgemmSerial(k *microKernel, w *workspace, transA, transB bool, i0, m, j0, n, p0, kk int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	mr, nr := k.mr, k.nr
	directB := k.direct && !transB && m <= k.mc
	for jc := 0; jc < n; jc += k.nc {
		nc := min(k.nc, n-jc)
		directA := k.direct && nc <= directPanels*nr
		for pc := 0; pc < kk; pc += k.kc {
			kc := min(k.kc, kk-pc)
			if directB {
				// Only a ragged last panel needs packing (zero padding).
				if last := nc / nr * nr; last < nc && k.panelWidth(nc-last) != nc-last {
					packB(k, transB, b, ldb, p0+pc, j0+jc+last, kc, nc-last, w.b)
				}
			} else {
				packB(k, transB, b, ldb, p0+pc, j0+jc, kc, nc, w.b)
			}
			// Later k blocks add onto what the first one stored.
			bet := beta
			if pc > 0 {
				bet = 1
			}
			for ic := 0; ic < m; ic += k.mc {
				mc := min(k.mc, m-ic)
				if directA {
					if last := mc / mr * mr; last < mc {
						packA(transA, a, lda, i0+ic+last, p0+pc, mc-last, kc, mr, w.a)
					}
				} else {
					packA(transA, a, lda, i0+ic, p0+pc, mc, kc, mr, w.a)
				}
				for jr := 0; jr < nc; jr += nr {
					cols := min(nr, nc-jr)
					width := k.panelWidth(cols)
					bp, csB := w.b[jr*kc:], width
					if directB && cols == width {
						bp, csB = b[(p0+pc)*ldb+j0+jc+jr:], ldb
					} else if directB {
						bp = w.b // the ragged panel, packed alone
					}
					for ir := 0; ir < mc; ir += mr {
						rows := min(mr, mc-ir)
						ap, rsA, csA := w.a[ir*kc:], 1, mr
						switch {
						case directA && rows == mr && transA:
							ap, rsA, csA = a[(p0+pc)*lda+i0+ic+ir:], 1, lda
						case directA && rows == mr:
							ap, rsA, csA = a[(i0+ic+ir)*lda+p0+pc:], lda, 1
						case directA:
							ap = w.a
						}
						k.run(kc, ap, rsA, csA, bp, csB, c[(ic+ir)*ldc+jc+jr:], ldc, alpha, bet, rows, cols)
					}
				}
			}
		}
	}
}

// dynamicChunks is the number of row chunks per worker of splitMDynamic.
const dynamicChunks = 4

// directPanels is the most column panels for which A is read in place
// rather than packed.
const directPanels = 4
