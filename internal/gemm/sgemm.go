package gemm

import (
	"math/bits"
	"sync/atomic"
	"unsafe"

	"github.com/effnet-go/effnet/internal/parallel"
)

// workspace holds one worker's packing buffers: blocks of A and B, all of
// op(B) when the worker packs it whole (see task.runRows), and, when the k
// dimension is split across workers, its private partial product.
type workspace struct {
	a, b, pb, c []float32
}

// workspaces caches packing buffers across calls so that steady-state calls
// do not allocate (see cache).
var workspaces cache[workspace]

// tasks caches the per-call bookkeeping of parallel calls.
var tasks cache[task]

// grow returns s resliced to n floats, or a new slice when s is too small.
// A new slice has room for the next power of two, so that a cached buffer
// serving products of many sizes (the layers of a network one after the
// other, in the order the free list hands the buffers out) settles after a
// few growths instead of growing by every larger product it meets: B0's
// training at 224 px, batch 32, still grew one by 221 KB within the five
// steps after two warm-up steps.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n, 1<<bits.Len(uint(n-1)))
	}
	return s[:n]
}

// getWorkspace returns packing buffers large enough for an m×n×kk product.
// They are sized to the problem, not to the blocking sizes, so that small
// products do not pin megabytes.
func getWorkspace(k *microKernel, m, n, kk int) *workspace {
	w := workspaces.get()
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
	// With rows for a few register tiles per chunk, deal the rows out in
	// chunks on demand, so that a worker slowed by other work on its core
	// (or a slower core) does not hold up the call. Each worker packs B
	// once for all its chunks (see runRows), so a chunk costs only its
	// share of the B block reads.
	if kind == splitM && m >= dynamicChunks*workers*minChunkTiles*k.mr {
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
	ws             []*workspace
	// chunks is the number of row chunks of an M split, and next the
	// first one no worker has taken yet.
	chunks int
	next   atomic.Int64
	// packWhole reports whether the workers of an M split pack all of
	// op(B) (see runRows) or read B in place.
	packWhole bool
	// nt reports whether full tiles store C non-temporally (see streams).
	nt bool
	// epi is the epilogue, when hasEpi.
	epi    epiState
	hasEpi bool
	// partsFn and rowsFn are the method values runParts and runRows,
	// made once per pooled task so that handing them to parallel.For does
	// not allocate per call.
	partsFn, rowsFn func(lo, hi int)
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
	case splitN:
		lo, hi := rangeOf(i, t.parts, (t.n+k.nr-1)/k.nr, k.nr, t.n)
		if lo < hi {
			var ep *epiView
			if t.hasEpi {
				v := t.epi.view(0, lo, t.ldc)
				ep = &v
			}
			sgemmSerial(k, w, t.transA, t.transB, 0, t.m, lo, hi-lo, 0, t.kk, t.alpha, t.a, t.lda, t.b, t.ldb, nil, t.beta, t.c[lo:], t.ldc, ep, t.nt)
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
			sgemmSerial(k, w, t.transA, t.transB, 0, t.m, 0, t.n, lo, hi-lo, t.alpha, t.a, t.lda, t.b, t.ldb, nil, t.beta, t.c, t.ldc, nil, false)
			return
		}
		w.c = grow(w.c, t.m*t.n)
		if lo == hi {
			clear(w.c)
			return
		}
		sgemmSerial(k, w, t.transA, t.transB, 0, t.m, 0, t.n, lo, hi-lo, t.alpha, t.a, t.lda, t.b, t.ldb, nil, 0, w.c, t.n, nil, false)
	}
}

// sgemm computes C = alpha·op(A)·op(B) + beta·C with kernel k on up to
// workers goroutines. Arguments are assumed valid (see Gemm).
func sgemm(k *microKernel, workers int, transA, transB bool, m, n, kk int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if swapPays(k, m, n, kk) {
		// Cᵀ = op(B)ᵀ·op(A)ᵀ tiles better (see swapPays); C is small,
		// so the product goes to a buffer and is added in transposed.
		t := swapBufs.get()
		if t == nil {
			t = new(swapBuf)
		}
		t.c = grow(t.c, n*m)
		sgemmEpi(k.fit(n, m), workers, !transB, !transA, n, m, kk, alpha, b, ldb, a, lda, 0, t.c, m, nil)
		for i := range m {
			ci := c[i*ldc : i*ldc+n]
			for j := range ci {
				if beta == 0 {
					ci[j] = t.c[j*m+i]
				} else {
					ci[j] = beta*ci[j] + t.c[j*m+i]
				}
			}
		}
		swapBufs.put(t)
		return
	}
	sgemmEpi(k.fit(m, n), workers, transA, transB, m, n, kk, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

// swapBuf is the buffer of a transposed product (see sgemm).
type swapBuf struct{ c []float32 }

var swapBufs cache[swapBuf]

// swapPays reports whether an m×n product over kk steps runs faster as its
// transpose. The register tile is mr×nr with B panels nr or nr/2 wide, so a
// dimension that is not a multiple of them wastes part of every tile: the
// weight gradient of a 1×1 convolution from 144 to 24 channels (m = 144,
// n = 24) fills 24 of 32 columns, while its transpose (m = 24, n = 144)
// fills every tile. The swap costs a pass over C, so it is taken only for
// small C and long k, where that pass is negligible, and only when it
// promises a tenth more (each way with the kernel that fit picks, see
// rate).
func swapPays(k *microKernel, m, n, kk int) bool {
	if m*n > 1<<16 || kk < 4*k.kc || m == 0 || n == 0 {
		return false
	}
	return rate(k.fit(n, m), n, m) >= 1.1*rate(k.fit(m, n), m, n)
}

// rate is the expected speed of an m×n product on kernel k relative to
// full tiles: the tiles' fill, less a quarter for the columns in a
// half-width panel, whose loop loads its A value for every FMA (13 loads
// per 12 FMAs, against 14 per 24 in the full-width loop) and issues its
// FMAs at about three quarters of the full loop's rate. The weight gradient
// from 16 channels (m = 96, n = 16) runs all in the half loop, its
// transpose (m = 16, n = 96) in full 8-row tiles.
func rate(k *microKernel, m, n int) float64 {
	f := k.fill(m, n)
	if rest := n % k.nr; k.half && rest > 0 && rest <= k.nr/2 {
		f *= 1 - 0.25*float64(rest)/float64(n)
	}
	return f
}

// sgemmEpi is sgemm followed by the epilogue e, when not nil, on the final C.
func sgemmEpi(k *microKernel, workers int, transA, transB bool, m, n, kk int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, e *Epilogue) {
	if m == 0 || n == 0 {
		return
	}
	if pk := k.pairsFor(transA, m, n, kk); pk != nil && alpha != 0 {
		sgemmPairs(pk, workers, transB, m, kk, alpha, a, lda, b, ldb, beta, c, ldc, e)
		return
	}
	split, parts := splitNone, 1
	if kk > 0 && alpha != 0 {
		split, parts = chooseSplit(k, workers, m, n, kk)
	}
	if split == splitNone && e == nil {
		if kk == 0 || alpha == 0 {
			scale(m, n, beta, c, ldc)
			return
		}
		w := getWorkspace(k, m, n, kk)
		sgemmSerial(k, w, transA, transB, 0, m, 0, n, 0, kk, alpha, a, lda, b, ldb, nil, beta, c, ldc, nil, streams(k, m, kk, beta, ldc, false))
		workspaces.put(w)
		return
	}
	t := tasks.get()
	if t == nil {
		t = new(task)
		t.partsFn, t.rowsFn = t.runParts, t.runRows
	}
	t.k, t.transA, t.transB, t.m, t.n, t.kk = k, transA, transB, m, n, kk
	t.alpha, t.beta, t.a, t.lda, t.b, t.ldb, t.c, t.ldc = alpha, beta, a, lda, b, ldb, c, ldc
	t.split, t.parts, t.ws = split, parts, t.ws[:0]
	t.chunks = parts
	if split == splitMDynamic {
		t.chunks = dynamicChunks * workers
	}
	// A kernel that reads B in place needs no packed B when B is not
	// transposed and each chunk fits one row block (see sgemmSerial):
	// packing would only copy B once more. (Making the chunks that small
	// on purpose costs more: each chunk then packs B's ragged last panel.)
	tiles := (m + k.mr - 1) / k.mr
	t.packWhole = !(k.direct && !transB && (tiles+t.chunks-1)/t.chunks*k.mr <= k.mc)
	t.hasEpi = e != nil
	t.nt = streams(k, m, kk, beta, ldc, t.hasEpi)
	if t.hasEpi {
		t.epi.prepare(e, n)
	}
	switch split {
	case splitNone:
		if kk == 0 || alpha == 0 {
			scale(m, n, beta, c, ldc)
			v := t.epi.view(0, 0, ldc)
			v.apply(c, ldc, 0, m, 0, n)
			break
		}
		w := getWorkspace(k, m, n, kk)
		v := t.epi.view(0, 0, ldc)
		sgemmSerial(k, w, transA, transB, 0, m, 0, n, 0, kk, alpha, a, lda, b, ldb, nil, beta, c, ldc, &v, false)
		workspaces.put(w)
	case splitM, splitMDynamic:
		t.next.Store(0)
		parallel.For(min(workers, t.chunks), 1, t.rowsFn)
	default:
		for range parts {
			t.ws = append(t.ws, getWorkspace(k, m, n, kk))
		}
		parallel.For(parts, 1, t.partsFn)
	}
	if split == splitK {
		t.reduceK()
	}
	if t.hasEpi {
		t.epi.finish()
	}
	for i, w := range t.ws {
		workspaces.put(w)
		t.ws[i] = nil
	}
	// Drop references to the caller's matrices before caching.
	t.a, t.b, t.c, t.ws = nil, nil, nil, t.ws[:0]
	tasks.put(t)
}

// reduceK adds the partial products of a k split to C, and applies the
// epilogue to each group of rows as soon as it is final.
func (t *task) reduceK() {
	const group = 8 // rows per epilogue call
	c, ldc, n := t.c, t.ldc, t.n
	var v epiView
	if t.hasEpi {
		v = t.epi.view(0, 0, ldc)
	}
	for i0 := 0; i0 < t.m; i0 += group {
		i1 := min(i0+group, t.m)
		for _, w := range t.ws[1:] {
			for i := i0; i < i1; i++ {
				ci := c[i*ldc : i*ldc+n]
				for j, x := range w.c[i*n : i*n+n] {
					ci[j] += x
				}
			}
		}
		if t.hasEpi {
			v.apply(c, ldc, i0, i1-i0, 0, n)
		}
	}
}

// packWholeB packs all of op(B) into dst, laid out as sgemmSerial reads a
// whole packed B: the kc×nc block (jc, pc) at packedOffset, its panels at
// jr·kc within it.
func (t *task) packWholeB(dst []float32) {
	k := t.k
	for pc := 0; pc < t.kk; pc += k.kc {
		kc := min(k.kc, t.kk-pc)
		for jc := 0; jc < t.n; jc += k.nc {
			packB(k, t.transB, t.b, t.ldb, pc, jc, kc, min(k.nc, t.n-jc), dst[packedOffset(k, t.n, t.kk, jc, pc):])
		}
	}
}

// packedOffset is where the packed kc×nc block of op(B) at row pc, column
// jc starts in a whole packed op(B) with n columns and kk rows: column
// blocks follow each other, and within one the k blocks, each as wide as
// the column block rounded up to whole panels.
func packedOffset(k *microKernel, n, kk, jc, pc int) int {
	return jc*kk + pc*roundUp(min(k.nc, n-jc), k.nr)
}

// runRows is one worker of an M split: it takes row chunks of C, whole
// register tiles of rows, until none is left. Taking chunks on demand lets
// a worker slowed by other work on its core leave its share to the others.
//
// When B must be packed, each worker packs all of op(B) for itself once,
// before its first chunk, rather than the workers packing one shared copy
// between them. On this machine a cache line written by one core costs the
// other about 250 ns to read (a round trip of a line between the two
// vCPUs takes 465 to 530 ns: internal/parallel's
// BenchmarkCacheLineRoundTrip), so a shared packed B made each worker fetch
// the half the other had packed, line by line, and the next call's packing
// wait for the other core to give up the lines it had read: packing 885 KB
// for fwd/project1152to192 took 70 µs of the call's 600 µs on both cores,
// against 22 µs for one core packing all of it into its own buffer.
func (t *task) runRows(_, _ int) {
	k := t.k
	tiles := (t.m + k.mr - 1) / k.mr
	var w *workspace
	var pb []float32
	for {
		ch := int(t.next.Add(1) - 1)
		if ch >= t.chunks {
			break
		}
		r0, r1 := rangeOf(ch, t.chunks, tiles, k.mr, t.m)
		if r0 >= r1 {
			continue
		}
		if w == nil {
			if t.packWhole {
				w = getWorkspace(k, min(t.m, k.mc), 0, t.kk)
				w.pb = grow(w.pb, t.kk*roundUp(t.n, k.nr))
				t.packWholeB(w.pb)
				pb = w.pb
			} else {
				// B is read in place, but a ragged last panel is packed.
				w = getWorkspace(k, min(t.m, k.mc), t.n, t.kk)
			}
		}
		var ep *epiView
		if t.hasEpi {
			v := t.epi.view(r0, 0, t.ldc)
			ep = &v
		}
		sgemmSerial(k, w, t.transA, t.transB, r0, r1-r0, 0, t.n, 0, t.kk, t.alpha, t.a, t.lda, t.b, t.ldb, pb, t.beta, t.c[r0*t.ldc:], t.ldc, ep, t.nt)
	}
	if w != nil {
		workspaces.put(w)
	}
}

// ntMinBytes is the size of C from which streams stores it non-temporally.
const ntMinBytes = 32 << 20

// rowWiseMaxB is the largest block of B, in bytes, for which streamed
// tiles run a row at a time (see rowWise).
const rowWiseMaxB = 16 << 10

// rowWise reports whether the streamed whole tiles of a block of C nc
// columns wide run a row of tiles at a time, across all column panels,
// rather than a column panel at a time. A panel at a time, each pass down
// the block writes 128 of every 4·nc bytes of C's rows, and this VM's
// memory takes such strided non-temporal stores far more slowly than
// runs: a product writing 32 of C's 96 columns ran at 0.54 the speed of
// the same product with a C 32 columns wide (BenchmarkStreamedColumns,
// medians of 5 runs). Row by row, fwd/expand16to96 at batch 8 ran 1.14×
// faster on two cores and 1.21× on one (medians of 7 and 5 alternating
// runs). Only when the nc×kc block of B stays in L1 as the tiles cycle
// through its panels.
func rowWise(nc, kc int) bool { return 4*nc*kc <= rowWiseMaxB }

// streams reports whether the product's full tiles should write C with
// non-temporal stores. An ordinary store first reads the line it writes
// (read for ownership), so a C much larger than the caches costs twice
// its size in memory traffic: fwd/expand16to96 at batch 8 reads 6.4 MB of
// A and writes 38.5 MB of C, 83 MB moved instead of 45. Non-temporal
// stores skip that read but leave C out of the caches, so they are used
// only when C is too big to stay there anyway, with no epilogue to read
// it back, and with one k block (later blocks would read C again).
func streams(k *microKernel, m, kk int, beta float32, ldc int, hasEpi bool) bool {
	return k.runNT != nil && !hasEpi && beta == 0 && kk <= k.kc && ldc%16 == 0 && m*ldc*4 >= ntMinBytes
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
//
// When pb is not nil it holds all of op(B) packed by packWholeB (then j0
// and p0 are 0 and n, kk the whole product's) and B is not packed here.
//
// When ep is not nil the epilogue runs on each mc×nc block of C right after
// the block's last k block.
//
// When nt is set (see streams) whole 64-byte aligned tiles are stored
// non-temporally, and the stores are fenced before returning.
func sgemmSerial(k *microKernel, w *workspace, transA, transB bool, i0, m, j0, n, p0, kk int, alpha float32, a []float32, lda int, b []float32, ldb int, pb []float32, beta float32, c []float32, ldc int, ep *epiView, nt bool) {
	mr, nr := k.mr, k.nr
	if nt {
		defer k.fence()
	}
	directB := k.direct && !transB && m <= k.mc && pb == nil
	// A long-k product with transposed A and plain B (a weight gradient,
	// dYᵀ·X) reads each k block of both as rows of A and B, which the
	// tiles touch a strided piece at a time. When it needs more than 8
	// bytes per cycle of FMAs (4·(m+n) bytes per k step against
	// roundUp(m, mr)·⌈n/16⌉/2 cycles), which two cores draw at about the
	// machine's whole memory bandwidth, its next k block is prefetched
	// meanwhile, a share before each tile, so that it arrives as whole
	// sequential rows: dW/expand16to96 (m = 16, n = 96 swapped) ran 24 %
	// faster; products below the threshold ran up to 14 % slower, the
	// prefetches taking load slots their kernels need.
	aheadK := k.prefetch != nil && transA && !transB && kk >= 4*k.kc && pb == nil &&
		m+n > roundUp(m, mr)*((n+15)/16)
	for jc := 0; jc < n; jc += k.nc {
		nc := min(k.nc, n-jc)
		directA := k.direct && nc <= directPanels*nr
		for pc := 0; pc < kk; pc += k.kc {
			kc := min(k.kc, kk-pc)
			bBlock := w.b
			if pb != nil {
				bBlock = pb[packedOffset(k, n, kk, jc, pc):]
			} else if directB {
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
			next, nkc := pc+kc, min(k.kc, kk-pc-kc)
			tiles := ((m + mr - 1) / mr) * ((nc + nr - 1) / nr)
			tile := 0
			for ic := 0; ic < m; ic += k.mc {
				mc := min(k.mc, m-ic)
				if directA {
					if last := mc / mr * mr; last < mc {
						packA(k, transA, a, lda, i0+ic+last, p0+pc, mc-last, kc, w.a)
					}
				} else {
					packA(k, transA, a, lda, i0+ic, p0+pc, mc, kc, w.a)
				}
				// A of the tiles from row ir of the block.
				aTile := func(ir, rows int) (ap []float32, rsA, csA, aStep int) {
					switch {
					case directA && rows == mr && transA:
						return a[(p0+pc)*lda+i0+ic+ir:], 1, lda, mr
					case directA && rows == mr:
						return a[(i0+ic+ir)*lda+p0+pc:], lda, 1, mr * lda
					case directA:
						return w.a, 1, mr, mr * kc
					}
					return w.a[ir*kc:], 1, mr, mr * kc
				}
				// Streamed whole tiles run a row of tiles at a time across
				// all column panels when the block of B stays in L1, so
				// that C is written in runs of whole rows (see rowWise).
				byRows := 0
				if nt && nc%nr == 0 && mc >= mr && rowWise(nc, kc) {
					if ct := c[ic*ldc+jc:]; uintptr(unsafe.Pointer(&ct[0]))%64 == 0 {
						byRows = mc / mr * mr
						ap, rsA, csA, aStep := aTile(0, mr)
						bp, csB, bStep := bBlock, nr, nr*kc
						if directB {
							bp, csB, bStep = b[(p0+pc)*ldb+j0+jc:], ldb, nr
						}
						k.runNT(kc, ap, rsA, csA, bp, csB, ct, ldc, alpha, byRows/mr, aStep, nc/nr, bStep)
					}
				}
				for jr := 0; jr < nc; jr += nr {
					cols := min(nr, nc-jr)
					width := k.panelWidth(cols)
					bp, csB := bBlock[jr*kc:], width
					if directB && cols == width {
						bp, csB = b[(p0+pc)*ldb+j0+jc+jr:], ldb
					} else if directB {
						bp = w.b // the ragged panel, packed alone
					}
					// Whole tiles go to runTiles in one call, the rest
					// (a ragged last tile, or every tile of a kernel
					// without runTiles) one call each.
					for ir := byRows; ir < mc; {
						rows := min(mr, mc-ir)
						count := 1
						if rows == mr && k.runTiles != nil {
							count = (mc - ir) / mr
						}
						if aheadK && nkc > 0 {
							r0, r1 := tile*nkc/tiles, (tile+count)*nkc/tiles
							k.prefetch(a[(p0+next+r0)*lda+i0:], lda, r1-r0, m)
							k.prefetch(b[(p0+next+r0)*ldb+j0:], ldb, r1-r0, n)
							tile += count
						}
						ap, rsA, csA, aStep := aTile(ir, rows)
						ct := c[(ic+ir)*ldc+jc+jr:]
						switch {
						case nt && rows == mr && cols == nr && uintptr(unsafe.Pointer(&ct[0]))%64 == 0:
							k.runNT(kc, ap, rsA, csA, bp, csB, ct, ldc, alpha, count, aStep, 1, 0)
						case rows == mr && k.runTiles != nil:
							k.runTiles(kc, ap, rsA, csA, bp, csB, ct, ldc, alpha, bet, cols, count, aStep)
						default:
							k.run(kc, ap, rsA, csA, bp, csB, ct, ldc, alpha, bet, rows, cols)
						}
						ir += count * mr
					}
				}
				if ep != nil && pc+kc == kk {
					ep.apply(c, ldc, ic, mc, jc, nc)
				}
			}
		}
	}
}

// dynamicChunks is the number of row chunks per worker of splitMDynamic.
const dynamicChunks = 4

// minChunkTiles is the fewest register tiles of rows in a chunk of
// splitMDynamic.
const minChunkTiles = 2

// directPanels is the most column panels for which A is read in place
// rather than packed.
const directPanels = 16
