//go:build amd64 && !noasm

package chanops

import "golang.org/x/sys/cpu"

//go:generate go run gen_amd64.go

// The assembly covers nc channels, a multiple of the vector width, of
// rows that are stride elements apart; the Go wrappers run the rest.

//go:noescape
func colSumsAVX512(sum, x *float32, rows, stride, nc int)

//go:noescape
func colDotsAVX512(sum, x, y *float32, rows, stride, nc int)

//go:noescape
func scaleRowsAVX512(dst, x, gate *float32, rows, stride, nc int)

//go:noescape
func scaleAddRowsAVX512(dst, x, gate, a *float32, rows, stride, nc int)

//go:noescape
func colSumsAVX2(sum, x *float32, rows, stride, nc int)

//go:noescape
func colDotsAVX2(sum, x, y *float32, rows, stride, nc int)

//go:noescape
func scaleRowsAVX2(dst, x, gate *float32, rows, stride, nc int)

//go:noescape
func scaleAddRowsAVX2(dst, x, gate, a *float32, rows, stride, nc int)

var (
	avx512Impl = impl{name: "avx512", colSums: colSumsV512, colDots: colDotsV512, scaleRows: scaleRowsV512}
	avx2Impl   = impl{name: "avx2", colSums: colSumsV2, colDots: colDotsV2, scaleRows: scaleRowsV2}
)

// available lists the implementations this CPU runs, fastest first.
func available() []*impl {
	var is []*impl
	if cpu.X86.HasAVX512F {
		is = append(is, &avx512Impl)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		is = append(is, &avx2Impl)
	}
	return append(is, &goImpl)
}

// best is chosen once; it never changes afterwards.
var best = available()[0]

// The wrappers below check that every row the assembly touches lies in
// the slices (the assembly takes raw pointers) and run the channels past
// the last whole vector in Go.

func inRows(n, rows, C int) bool { return rows == 0 || n >= rows*C }

func colSumsV512(sum, x []float32, rows, C int) {
	nc := C &^ 15
	if nc > 0 && rows > 0 {
		if !inRows(len(x), rows, C) || len(sum) < C {
			panic("chanops: slice too short")
		}
		colSumsAVX512(&sum[0], &x[0], rows, C, nc)
	}
	colSumsFrom(sum, x, rows, C, nc)
}

func colSumsV2(sum, x []float32, rows, C int) {
	nc := C &^ 7
	if nc > 0 && rows > 0 {
		if !inRows(len(x), rows, C) || len(sum) < C {
			panic("chanops: slice too short")
		}
		colSumsAVX2(&sum[0], &x[0], rows, C, nc)
	}
	colSumsFrom(sum, x, rows, C, nc)
}

func colDotsV512(sum, x, y []float32, rows, C int) {
	nc := C &^ 15
	if nc > 0 && rows > 0 {
		if !inRows(len(x), rows, C) || !inRows(len(y), rows, C) || len(sum) < C {
			panic("chanops: slice too short")
		}
		colDotsAVX512(&sum[0], &x[0], &y[0], rows, C, nc)
	}
	colDotsFrom(sum, x, y, rows, C, nc)
}

func colDotsV2(sum, x, y []float32, rows, C int) {
	nc := C &^ 7
	if nc > 0 && rows > 0 {
		if !inRows(len(x), rows, C) || !inRows(len(y), rows, C) || len(sum) < C {
			panic("chanops: slice too short")
		}
		colDotsAVX2(&sum[0], &x[0], &y[0], rows, C, nc)
	}
	colDotsFrom(sum, x, y, rows, C, nc)
}

func scaleRowsV512(dst, x, g, a []float32, rows, C int) {
	scaleRowsVec(dst, x, g, a, rows, C, C&^15, scaleRowsAVX512, scaleAddRowsAVX512)
}

func scaleRowsV2(dst, x, g, a []float32, rows, C int) {
	scaleRowsVec(dst, x, g, a, rows, C, C&^7, scaleRowsAVX2, scaleAddRowsAVX2)
}

// scaleRowsVec runs the first nc channels of every row in assembly. The
// kernels come in as arguments; they are assembly functions, so passing
// them costs no allocation.
func scaleRowsVec(dst, x, g, a []float32, rows, C, nc int,
	mul func(dst, x, g *float32, rows, stride, nc int),
	fma func(dst, x, g, a *float32, rows, stride, nc int)) {
	if nc > 0 && rows > 0 {
		if !inRows(len(x), rows, C) || !inRows(len(dst), rows, C) || len(g) < C || (a != nil && len(a) < C) {
			panic("chanops: slice too short")
		}
		if a == nil {
			mul(&dst[0], &x[0], &g[0], rows, C, nc)
		} else {
			fma(&dst[0], &x[0], &g[0], &a[0], rows, C, nc)
		}
	}
	if nc < C {
		scaleRowsFrom(dst, x, g, a, rows, C, nc)
	}
}
