package gemm

import (
	"fmt"
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/effnet-go/effnet/internal/tensor"
)

var impl gonum.Implementation

// fastest is the best kernel this CPU and build can run; fixed at start-up.
var fastest = kernels()[0]

// Gemm computes c = alpha·op(a)·op(b) + beta·c where op(x) is x or its
// transpose. op(a) is m×k, op(b) is k×n and c is m×n, all row-major with
// leading dimensions lda, ldb and ldc. When beta is zero c is not read, so
// it may hold anything, NaN included.
//
// float32 runs the packed, cache-blocked kernels of this package on all
// cores; float64 runs gonum's Dgemm. Gemm panics if the dimensions, leading
// dimensions or slice lengths are inconsistent: those are programmer bugs.
func Gemm[T tensor.Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	switch a := any(a).(type) {
	case []float32:
		b, c := any(b).([]float32), any(c).([]float32)
		checkArgs(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
		sgemm(fastest, runtime.GOMAXPROCS(0), transA, transB, m, n, k, float32(alpha), a, lda, b, ldb, float32(beta), c, ldc)
	case []float64:
		if m == 0 || n == 0 {
			return
		}
		ta, tb := blas.NoTrans, blas.NoTrans
		if transA {
			ta = blas.Trans
		}
		if transB {
			tb = blas.Trans
		}
		impl.Dgemm(ta, tb, m, n, k, float64(alpha), a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// checkArgs panics unless the three row-major matrices fit their slices.
func checkArgs(transA, transB bool, m, n, k, lenA, lda, lenB, ldb, lenC, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	rowsA, colsA := m, k
	if transA {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if transB {
		rowsB, colsB = n, k
	}
	check := func(name string, rows, cols, ld, l int) {
		if ld < max(1, cols) {
			panic(fmt.Sprintf("gemm: leading dimension of %s is %d, want at least %d", name, ld, max(1, cols)))
		}
		if rows > 0 && cols > 0 && l < (rows-1)*ld+cols {
			panic(fmt.Sprintf("gemm: %s has %d elements, want at least %d for %d×%d with leading dimension %d", name, l, (rows-1)*ld+cols, rows, cols, ld))
		}
	}
	if m > 0 && n > 0 && k > 0 {
		check("a", rowsA, colsA, lda, lenA)
		check("b", rowsB, colsB, ldb, lenB)
	}
	check("c", m, n, ldc, lenC)
}
