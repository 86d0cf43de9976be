package gemm

import (
	"fmt"
	"runtime"

	"github.com/effnet-go/effnet/internal/vmath"
)

// Act is the activation an Epilogue applies.
type Act int

const (
	ActNone Act = iota // identity
	ActSiLU            // x·σ(x)
)

// Epilogue is the per-element work GemmEpilogue does on each block of C
// while the block is still in cache, instead of in separate passes over C:
//
//	C = Act(A·B ⊙ Scale + Bias) + Residual
//
// Scale and Bias hold one value per column of C (length n); nil means 1
// and 0. Residual, when not nil, has C's layout (leading dimension ldc)
// and must not overlap C: C's blocks are written before the epilogue reads
// the residual.
//
// This is an evaluation-mode 1×1 convolution with its batch normalisation
// (Scale, Bias), activation and skip connection folded in.
type Epilogue struct {
	Scale, Bias []float32
	Act         Act
	Residual    []float32
}

// GemmEpilogue computes C = op(A)·op(B) for float32 operands, as Gemm with
// alpha 1 and beta 0 does, and applies e to C block by block right after
// each block's last k step (see Epilogue); e may be nil. C is not read, so
// it may hold anything, NaN included.
//
// GemmEpilogue panics if a dimension, leading dimension or slice length is
// inconsistent, or e's slices have the wrong lengths: those are programmer
// bugs.
func GemmEpilogue(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, e *Epilogue) {
	checkArgs(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	checkEpilogue(e, m, n, ldc)
	sgemmEpi(fastest, runtime.GOMAXPROCS(0), transA, transB, m, n, k, 1, a, lda, b, ldb, 0, c, ldc, e)
}

func checkEpilogue(e *Epilogue, m, n, ldc int) {
	if e == nil {
		return
	}
	vec := func(name string, l int) {
		if l != 0 && l != n {
			panic(fmt.Sprintf("gemm: epilogue %s has length %d, want %d", name, l, n))
		}
	}
	vec("Scale", len(e.Scale))
	vec("Bias", len(e.Bias))
	if e.Act != ActNone && e.Act != ActSiLU {
		panic(fmt.Sprintf("gemm: unknown epilogue activation %d", e.Act))
	}
	if e.Residual != nil && m > 0 && n > 0 && len(e.Residual) < (m-1)*ldc+n {
		panic(fmt.Sprintf("gemm: epilogue Residual has %d elements, want at least %d", len(e.Residual), (m-1)*ldc+n))
	}
}

// epiState is the epilogue of one call: e and constant vectors standing in
// for nil Scale and Bias. It lives in the pooled task, so that it is
// reused.
type epiState struct {
	e           *Epilogue
	scale, bias []float32 // e's, or ones and zeros
	ones        []float32
	zeros32     []float32 // the mean NormRows subtracts
	norm        bool
}

// prepare sets s up for e on an n-column C.
func (s *epiState) prepare(e *Epilogue, n int) {
	s.e = e
	s.norm = e.Scale != nil || e.Bias != nil
	if s.norm {
		s.zeros32 = grow(s.zeros32, n)
		clear(s.zeros32)
		s.scale, s.bias = e.Scale, e.Bias
		if s.scale == nil {
			s.ones = grow(s.ones, n)
			for j := range s.ones {
				s.ones[j] = 1
			}
			s.scale = s.ones
		}
		if s.bias == nil {
			s.bias = s.zeros32
		}
	}
}

// finish drops the references to the caller's slices.
func (s *epiState) finish() {
	s.e, s.scale, s.bias = nil, nil, nil
}

// view returns the epilogue as seen by the block of C whose top-left
// element is at row i0, column j0: the slices are offset so that the
// block's local coordinates index them as they index its C.
func (s *epiState) view(i0, j0, ldc int) epiView {
	v := epiView{s: s}
	if s.norm {
		v.scale, v.bias = s.scale[j0:], s.bias[j0:]
	}
	if r := s.e.Residual; r != nil {
		v.res = r[i0*ldc+j0:]
	}
	return v
}

// epiView is one block's view of the epilogue (see epiState.view).
type epiView struct {
	s           *epiState
	scale, bias []float32
	res         []float32
}

// apply runs the epilogue on the rows×cols block of c at row i, column j
// (local coordinates). Rows that are contiguous (the block spans all of
// C's leading dimension) are handled in one call per step, so that the
// vector loops of vmath run long.
func (v *epiView) apply(c []float32, ldc, i, rows, j, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	if cols == ldc {
		v.segment(c[i*ldc:(i+rows)*ldc], i*ldc, j, cols)
		return
	}
	for r := i; r < i+rows; r++ {
		v.segment(c[r*ldc+j:r*ldc+j+cols], r*ldc+j, j, cols)
	}
}

// segment runs the epilogue on x, whole rows of cols values starting at
// column j, which is c[off:off+len(x)].
func (v *epiView) segment(x []float32, off, j, cols int) {
	s := v.s
	if s.norm {
		vmath.NormRows(x, x, s.zeros32[:cols], v.scale[j:j+cols], v.bias[j:j+cols])
	}
	if s.e.Act == ActSiLU {
		vmath.SiLU(x, nil, x)
	}
	if v.res != nil {
		addTo(x, v.res[off:off+len(x)])
	}
}

// addTo sets dst[i] += src[i].
func addTo(dst, src []float32) {
	src = src[:len(dst)]
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		d := (*[4]float32)(dst[i:])
		s := (*[4]float32)(src[i:])
		d[0] += s[0]
		d[1] += s[1]
		d[2] += s[2]
		d[3] += s[3]
	}
	for ; i < len(dst); i++ {
		dst[i] += src[i]
	}
}
