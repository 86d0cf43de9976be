// Package gemm computes C = alpha·op(A)·op(B) + beta·C on row-major
// matrices, the one kernel behind every convolution and linear layer.
//
// float64 goes to gonum's blas64, which is exact enough for gradient checks
// and reference comparisons; float32 is the production path.
package gemm

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/effnet-go/effnet/internal/tensor"
)

var impl gonum.Implementation

// Gemm computes c = alpha·op(a)·op(b) + beta·c where op(x) is x or its
// transpose. op(a) is m×k, op(b) is k×n and c is m×n, all row-major with
// leading dimensions lda, ldb and ldc.
func Gemm[T tensor.Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
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
	switch a := any(a).(type) {
	case []float32:
		impl.Sgemm(ta, tb, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		impl.Dgemm(ta, tb, m, n, k, float64(alpha), a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}
