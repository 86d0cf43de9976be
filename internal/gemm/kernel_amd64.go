//go:build amd64 && !noasm

package gemm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate go run gen_amd64.go

//go:noescape
func kernelAVX512(kc int, a *float32, rsA, csA int, b *float32, csB int, c *float32, ldc int, alpha, beta float32, rows, cols int)

//go:noescape
func kernelAVX512x10(kc int, a *float32, rsA, csA int, b *float32, csB int, c *float32, ldc int, alpha, beta float32, rows, cols int)

//go:noescape
func kernelAVX512x8(kc int, a *float32, rsA, csA int, b *float32, csB int, c *float32, ldc int, alpha, beta float32, rows, cols int)

//go:noescape
func kernelAVX512NT(kc int, a *float32, rsA, csA int, b *float32, csB int, c *float32, ldc int, alpha, beta float32, rows, cols int)

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
	run:       runAVX512,
	transpose: runTransposeAVX512,
	packA12:   runPackA12AVX512,
	narrow:    &avx512Kernel10,
	runNT:     runAVX512NT,
	fence:     sfenceAMD64,
	prefetch:  prefetchRows,
}

// avx512Kernel10 is the 10×32 sibling of avx512Kernel (20 accumulators) for
// products whose row count ten divides and twelve does not, such as the
// 40-channel weight gradients of EfficientNet-B0 (see microKernel.fit).
var avx512Kernel10 = microKernel{
	name: "avx512-10x32",
	mr:   10, nr: 32,
	kc: 512, mc: 140, nc: 2048,
	half:      true,
	direct:    true,
	run:       runAVX512x10,
	transpose: runTransposeAVX512,
	narrow:    &avx512Kernel8,
	prefetch:  prefetchRows,
}

// avx512Kernel8 is the 8×32 sibling (16 accumulators) for products with 16
// rows: the weight gradient of B0's 1×1 convolution from 16 channels runs
// transposed on it (see swapPays).
var avx512Kernel8 = microKernel{
	name: "avx512-8x32",
	mr:   8, nr: 32,
	kc: 512, mc: 144, nc: 2048,
	half:      true,
	direct:    true,
	run:       runAVX512x8,
	transpose: runTransposeAVX512,
	prefetch:  prefetchRows,
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

func runAVX512(kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc int, alpha, beta float32, rows, cols int) {
	checkAVX512(12, kc, a, rsA, csA, b, csB, c, ldc, rows, cols)
	kernelAVX512(kc, &a[0], rsA, csA, &b[0], csB, &c[0], ldc, alpha, beta, rows, cols)
}

func runAVX512NT(kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc int, alpha, beta float32, rows, cols int) {
	checkAVX512(12, kc, a, rsA, csA, b, csB, c, ldc, rows, cols)
	if rows != 12 || cols != 32 || beta != 0 || uintptr(unsafe.Pointer(&c[0]))%64 != 0 || ldc%16 != 0 {
		panic("gemm: non-temporal stores need a whole, aligned tile with beta 0")
	}
	kernelAVX512NT(kc, &a[0], rsA, csA, &b[0], csB, &c[0], ldc, alpha, beta, rows, cols)
}

func runAVX512x8(kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc int, alpha, beta float32, rows, cols int) {
	checkAVX512(8, kc, a, rsA, csA, b, csB, c, ldc, rows, cols)
	kernelAVX512x8(kc, &a[0], rsA, csA, &b[0], csB, &c[0], ldc, alpha, beta, rows, cols)
}

func prefetchRows(a []float32, lda, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	_ = a[(rows-1)*lda+cols-1]
	// One line more than cols floats span, for rows that do not start on
	// a line boundary.
	prefetchRowsAMD64(&a[0], 4*lda, rows, (4*cols+63)/64+1)
}

func runAVX512x10(kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc int, alpha, beta float32, rows, cols int) {
	checkAVX512(10, kc, a, rsA, csA, b, csB, c, ldc, rows, cols)
	kernelAVX512x10(kc, &a[0], rsA, csA, &b[0], csB, &c[0], ldc, alpha, beta, rows, cols)
}

// checkAVX512 checks the bounds the assembly relies on: it reads all mr
// rows of A and 16 or 32 columns of B whatever rows and cols are.
func checkAVX512(mr, kc int, a []float32, rsA, csA int, b []float32, csB int, c []float32, ldc, rows, cols int) {
	w := 16
	if cols > 16 {
		w = 32
	}
	_ = a[(mr-1)*rsA+(kc-1)*csA]
	_ = b[(kc-1)*csB+w-1]
	_ = c[(rows-1)*ldc+cols-1]
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
		ks = append(ks, &avx512Kernel, &avx512Kernel10, &avx512Kernel8)
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
