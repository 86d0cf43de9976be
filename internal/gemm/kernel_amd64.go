//go:build amd64 && !noasm

package gemm

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate go run gen_amd64.go

//go:noescape
func kernelAVX512(kc int, a *float32, rsA, csA int, b *float32, csB int, c *float32, ldc int, alpha, beta float32, rows, cols, tiles, aStep int)

//go:noescape
func kernelAVX512x10(kc int, a *float32, rsA, csA int, b *float32, csB int, c *float32, ldc int, alpha, beta float32, rows, cols, tiles, aStep int)

//go:noescape
func kernelAVX512x8(kc int, a *float32, rsA, csA int, b *float32, csB int, c *float32, ldc int, alpha, beta float32, rows, cols, tiles, aStep int)

//go:noescape
func kernelAVX512NT(kc int, a *float32, rsA, csA int, b *float32, csB int, c *float32, ldc int, alpha float32, tiles, aStep, panels, bStep int)

//go:noescape
func kernelAVX512P24(kc int, a *float32, rsA int, b *float32, c *float32, ldc int, alpha, beta float32, rows, tiles, aStep int)

//go:noescape
func kernelAVX512P40(kc int, a *float32, rsA int, b *float32, c *float32, ldc int, alpha, beta float32, rows, tiles, aStep int)

//go:noescape
func kernelAVX512x24x16(kc int, a *float32, rsA, csA int, b *float32, csB int, c *float32, ldc int, alpha, beta float32, rows, cols, tiles, aStep int, sweep, sweepB uintptr)

func sfenceAMD64()

//go:noescape
func prefetchRowsAMD64(a *float32, stride, rows, lines int)

//go:noescape
func transposeAVX512(dst *float32, ldd int, src *float32, lds int, blocks int)

//go:noescape
func packA12AVX512(dst *float32, a *float32, lda int, blocks int)

//go:noescape
func kernelAVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32)

// avx512Kernel is a 12×32 tile: 24 zmm accumulators, two for the B step and
// six for broadcast A values fill the 32 zmm registers. Per k step it issues
// 24 FMAs against 14 loads, which keeps both FMA pipes busy.
var avx512Kernel = microKernel{
	name: "avx512-12x32",
	mr:   12, nr: 32,
	kc: 512, mc: 144, nc: 2048,
	half:      true,
	direct:    true,
	run:       avx512Single(12, 32, kernelAVX512),
	runTiles:  avx512Multi(12, 32, kernelAVX512),
	transpose: runTransposeAVX512,
	packA12:   runPackA12AVX512,
	narrow:    &avx512Kernel10,
	pairs:     pairsIfDQ(),
	cols16:    &avx512Kernel24x16,
	runNT:     runAVX512NT,
	fence:     sfenceAMD64,
	prefetch:  prefetchRows,
}

// avx512Kernel10 is the 10×32 sibling of avx512Kernel (20 accumulators) for
// products whose row count ten divides and twelve does not, such as the
// 40-channel weight gradients of EfficientNet-B0 (see microKernel.fit).
var avx512Kernel10 = avx512Sibling(10, kernelAVX512x10, &avx512Kernel8)

// avx512Kernel8 is the 8×32 sibling (16 accumulators) for products with 16
// rows: the weight gradient of B0's 1×1 convolution from 16 channels runs
// transposed on it (see swapPays).
var avx512Kernel8 = avx512Sibling(8, kernelAVX512x8, nil)

// avx512Kernel24x16 is the kernel of products with at most 16 columns (see
// microKernel.cols16): 24 rows of one zmm each, so that a B step serves 24
// FMAs where the 12×32 kernel's half-width loop gives it 12. Its loop
// prefetches A read in place itself, as a steady trickle (for the weight
// gradient, the next k blocks as sequential runs: see sweepStarts), so it
// has no driver prefetch: the driver's bursts of next-block prefetches on
// top made dW/expand16to96 a third slower.
var avx512Kernel24x16 = microKernel{
	name: "avx512-24x16",
	mr:   24, nr: 16,
	kc: 512, mc: 144, nc: 2048,
	direct:    true,
	run:       run24x16,
	runTiles:  runTiles24x16,
	transpose: runTransposeAVX512,
}

// avx512Sibling is the mr-row sibling of avx512Kernel running f, with the
// same blocking but for mc, the largest multiple of mr up to 144.
func avx512Sibling(mr int, f avx512Asm, narrow *microKernel) microKernel {
	return microKernel{
		name: fmt.Sprintf("avx512-%dx32", mr),
		mr:   mr, nr: 32,
		kc: 512, mc: 144 / mr * mr, nc: 2048,
		half:      true,
		direct:    true,
		run:       avx512Single(mr, 32, f),
		runTiles:  avx512Multi(mr, 32, f),
		transpose: runTransposeAVX512,
		narrow:    narrow,
		prefetch:  prefetchRows,
	}
}

func runPackA12AVX512(dst, a []float32, lda int, blocks int) {
	// Bounds the assembly relies on.
	_ = dst[16*12*blocks-1]
	_ = a[11*lda+16*blocks-1]
	packA12AVX512(&dst[0], &a[0], lda, blocks)
}

func runTransposeAVX512(dst []float32, ldd int, src []float32, lds int, blocks int) {
	// Bounds the assembly relies on.
	_ = dst[(16*blocks-1)*ldd+15]
	_ = src[15*lds+16*blocks-1]
	transposeAVX512(&dst[0], ldd, &src[0], lds, blocks)
}

func prefetchRows(a []float32, lda, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	_ = a[(rows-1)*lda+cols-1]
	if lda == cols {
		// Contiguous rows: one run, without a spare line per row.
		cols, rows = rows*cols, 1
	}
	// One line more than cols floats span, for rows that do not start on
	// a line boundary.
	prefetchRowsAMD64(&a[0], 4*lda, rows, (4*cols+63)/64+1)
}

// avx512Asm is the signature of the generated AVX-512 kernels: tiles
// tiles of rows×cols, A moving on by aStep floats and C by mr rows after
// each.
type avx512Asm func(kc int, a *float32, rsA, csA int, b *float32, csB int, c *float32, ldc int, alpha, beta float32, rows, cols, tiles, aStep int)

// avx512Single returns microKernel.run for the mr×nr kernel f.
func avx512Single(mr, nr int, f avx512Asm) func(kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc int, alpha, beta float32, rows, cols int) {
	return func(kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc int, alpha, beta float32, rows, cols int) {
		checkAVX512(mr, nr, kc, a, rsA, csA, b, csB, c, ldc, rows, cols, 1, 0)
		f(kc, &a[0], rsA, csA, &b[0], csB, &c[0], ldc, alpha, beta, rows, cols, 1, 0)
	}
}

// avx512Multi returns microKernel.runTiles for the mr×nr kernel f.
func avx512Multi(mr, nr int, f avx512Asm) func(kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc int, alpha, beta float32, cols, tiles, aStep int) {
	return func(kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc int, alpha, beta float32, cols, tiles, aStep int) {
		checkAVX512(mr, nr, kc, a, rsA, csA, b, csB, c, ldc, mr, cols, tiles, aStep)
		f(kc, &a[0], rsA, csA, &b[0], csB, &c[0], ldc, alpha, beta, mr, cols, tiles, aStep)
	}
}

// pairsIfDQ returns the pair kernels (see pairsKernel) when the CPU has
// AVX-512DQ, which their pair broadcast (VBROADCASTF32X2) needs.
func pairsIfDQ() []pairsKernel {
	if !cpu.X86.HasAVX512DQ {
		return nil
	}
	return []pairsKernel{
		{mr: 12, vecs: 1, run: pairsRun(12, 1, kernelAVX512P24)},
		{mr: 8, vecs: 2, run: pairsRun(8, 2, kernelAVX512P40)},
	}
}

// pairsRun returns pairsKernel.run for the generated kernel f.
func pairsRun(mr, vecs int, f func(kc int, a *float32, rsA int, b *float32, c *float32, ldc int, alpha, beta float32, rows, tiles, aStep int)) func(kc int, a []float32, rsA int, b []float32, c []float32, ldc int, alpha, beta float32, rows, tiles, aStep int) {
	n := 16*vecs + 8
	return func(kc int, a []float32, rsA int, b []float32, c []float32, ldc int, alpha, beta float32, rows, tiles, aStep int) {
		// Bounds the assembly relies on: it reads kc steps of all mr
		// rows of each tile and the whole packed B, and writes n
		// columns of each row.
		if tiles < 1 || aStep < 0 || rows < 1 || rows > mr || (tiles > 1 && rows != mr) {
			panic("gemm: bad tile shape for a pair kernel")
		}
		_ = a[(tiles-1)*aStep+(mr-1)*rsA+kc-1]
		_ = b[pairsLen(kc, vecs)-1]
		_ = c[((tiles-1)*mr+rows-1)*ldc+n-1]
		f(kc, &a[0], rsA, &b[0], &c[0], ldc, alpha, beta, rows, tiles, aStep)
	}
}

func runAVX512NT(kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc int, alpha float32, tiles, aStep, panels, bStep int) {
	if uintptr(unsafe.Pointer(&c[0]))%64 != 0 || ldc%16 != 0 {
		panic("gemm: non-temporal stores need 64-byte aligned rows of C")
	}
	if panels < 1 || bStep < 0 || (panels > 1 && ldc < 32*panels) {
		panic("gemm: bad panel count or B step")
	}
	checkAVX512(12, 32, kc, a, rsA, csA, b[(panels-1)*bStep:], csB, c[32*(panels-1):], ldc, 12, 32, tiles, aStep)
	kernelAVX512NT(kc, &a[0], rsA, csA, &b[0], csB, &c[0], ldc, alpha, tiles, aStep, panels, bStep)
}

// checkAVX512 checks the bounds the assembly of an mr×nr kernel relies on:
// it reads all mr rows of A and all nr columns of B (16 in the half-width
// loop of the 32-wide kernels) whatever rows and cols are, for each of
// tiles tiles.
func checkAVX512(mr, nr, kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc, rows, cols, tiles, aStep int) {
	if tiles < 1 || aStep < 0 {
		panic("gemm: bad tile count or A step")
	}
	if rows < 1 || rows > mr || cols < 1 || cols > nr {
		panic("gemm: tile larger than the kernel's")
	}
	w := nr // floats of each B step read: all, but in the half-width loop
	if nr == 32 && cols <= 16 {
		w = 16
	}
	_ = a[(tiles-1)*aStep+(mr-1)*rsA+(kc-1)*csA]
	_ = b[(kc-1)*csB+w-1]
	_ = c[((tiles-1)*mr+rows-1)*ldc+cols-1]
}

// avx2Kernel is the 6×16 tile of CPUs without AVX-512: 12 ymm accumulators
// plus two B and two broadcast registers fill the 16 ymm registers.
var avx2Kernel = microKernel{
	name: "avx2-6x16",
	mr:   6, nr: 16,
	kc: 256, mc: 72, nc: 2048,
	run: runAVX2,
}

func runAVX2(kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc int, alpha, beta float32, rows, cols int) {
	if rsA != 1 || csA != 6 || csB != 16 {
		panic("gemm: avx2 kernel needs packed operands")
	}
	_ = a[6*kc-1]
	_ = b[16*kc-1]
	if rows == 6 && cols == 16 {
		_ = c[5*ldc+15]
		kernelAVX2(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
		return
	}
	// Edge tile: compute the full tile into scratch space, then merge the
	// valid corner.
	var t [6 * 16]float32
	kernelAVX2(kc, &a[0], &b[0], &t[0], 16, 1, 0)
	storeTile(t[:], 16, c, ldc, alpha, beta, rows, cols)
}

// kernels lists every kernel this CPU can run, fastest first.
func kernels() []*microKernel {
	var ks []*microKernel
	// HasAVX512F is only set when the OS saves the zmm and opmask state;
	// HasAVX2 likewise checks the ymm state.
	if cpu.X86.HasAVX512F {
		ks = append(ks, &avx512Kernel, &avx512Kernel10, &avx512Kernel8, &avx512Kernel24x16)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &avx2Kernel)
	}
	return append(ks, &goKernel)
}

// fmaPeakAVX512 runs n iterations of 24 independent FMAs on zmm registers,
// which measures the machine's attainable FP32 peak (768 flops per
// iteration). It is used by BenchmarkPeak only.
func fmaPeakAVX512(n int)

// run24x16 and runTiles24x16 are what avx512Single and avx512Multi make
// of the other kernels, for the 24×16 one, whose assembly also takes the
// addresses it sweeps (see sweepStarts): none for a single tile.
func run24x16(kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc int, alpha, beta float32, rows, cols int) {
	checkAVX512(24, 16, kc, a, rsA, csA, b, csB, c, ldc, rows, cols, 1, 0)
	kernelAVX512x24x16(kc, &a[0], rsA, csA, &b[0], csB, &c[0], ldc, alpha, beta, rows, cols, 1, 0, 0, 0)
}

func runTiles24x16(kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc int, alpha, beta float32, cols, tiles, aStep int) {
	checkAVX512(24, 16, kc, a, rsA, csA, b, csB, c, ldc, 24, cols, tiles, aStep)
	sweepA, sweepB := sweepStarts(24, kc, a, rsA, csA, tiles, aStep, b, csB)
	kernelAVX512x24x16(kc, &a[0], rsA, csA, &b[0], csB, &c[0], ldc, alpha, beta, 24, cols, tiles, aStep, sweepA, sweepB)
}

// sweepStarts returns the addresses of the next k blocks of A and B when
// the tiles of a call, mr rows each, cover whole rows of A transposed in
// place (rsA = 1, tiles side by side, csA = tiles·mr: the weight gradient
// dYᵀ·X with all of dY's channels, split over k), and 0, 0 otherwise.
// A's next block is then one contiguous run, which the kernel prefetches
// as it goes (see avx512x16 in gen_amd64.go), and so is B's when B is read
// in place with rows of at most 4·tiles floats (X, with 16 channels): the
// kernel takes a line of it per four steps. They are addresses, not
// pointers, and only ever prefetched: a block past the end of a or b
// (the last one) is not swept, and a B that is a packed panel, whose next
// block is not there, costs a few useless prefetches, never a wrong
// result. The kernel always gets both or neither: without B's next block
// in b it sweeps B's current one, which its tiles read anyway.
func sweepStarts(mr, kc int, a []float32, rsA, csA, tiles, aStep int, b []float32, csB int) (sweepA, sweepB uintptr) {
	if rsA != 1 || aStep != mr || csA != tiles*mr || cap(a) < 2*kc*csA {
		return 0, 0
	}
	sweepA = uintptr(unsafe.Pointer(unsafe.SliceData(a))) + uintptr(4*kc*csA)
	sweepB = uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if csB <= 4*tiles && cap(b) >= 2*kc*csB {
		sweepB += uintptr(4 * kc * csB)
	}
	return sweepA, sweepB
}
