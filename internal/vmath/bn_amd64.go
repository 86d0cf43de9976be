//go:build amd64 && !noasm

package vmath

import "golang.org/x/sys/cpu"

// The assembly loops (bn_amd64.s) run rows of c channels and cover the
// first c &^ 7 channels of each row: 16 at a time and one step of 8 (all
// EfficientNet widths are multiples of 8); the wrappers run any other
// channels in Go.

//go:noescape
func bnNormAVX512(dst, x, m, a, b *float32, rows, c int)

//go:noescape
func bnNormGradAVX512(dst, dy, x, m, a, xc, b *float32, rows, c int)

//go:noescape
func bnSumsAVX512(s1, s2 *float64, x *float32, base *float64, rows, c int)

//go:noescape
func bnGradSumsAVX512(sg, sgx *float64, dy, x *float32, m *float64, rows, c int)

var bnAVX512 = bnImpl{
	name: "avx512",
	norm: func(dst, x, m, a, b []float32) {
		c := len(m)
		rows := len(x) / c
		if rows == 0 {
			return
		}
		if c >= 8 {
			bnNormAVX512(&dst[0], &x[0], &m[0], &a[0], &b[0], rows, c)
		}
		if v := c &^ 7; v < c {
			for r := 0; r < len(x); r += c {
				normGo(dst[r+v:r+c], x[r+v:r+c], m[v:], a[v:], b[v:])
			}
		}
	},
	normGrad: func(dst, dy, x, m, a, xc, b []float32) {
		c := len(m)
		rows := len(x) / c
		if rows == 0 {
			return
		}
		if c >= 8 {
			bnNormGradAVX512(&dst[0], &dy[0], &x[0], &m[0], &a[0], &xc[0], &b[0], rows, c)
		}
		if v := c &^ 7; v < c {
			for r := 0; r < len(x); r += c {
				normGradGo(dst[r+v:r+c], dy[r+v:r+c], x[r+v:r+c], m[v:], a[v:], xc[v:], b[v:])
			}
		}
	},
	sums: func(s1, s2 []float64, x []float32, base []float64) {
		c := len(base)
		rows := len(x) / c
		if rows == 0 {
			return
		}
		if c >= 8 {
			bnSumsAVX512(&s1[0], &s2[0], &x[0], &base[0], rows, c)
		}
		if v := c &^ 7; v < c {
			for r := 0; r < len(x); r += c {
				sumsGo(s1[v:], s2[v:], x[r+v:r+c], base[v:])
			}
		}
	},
	gradSums: func(sg, sgx []float64, dy, x []float32, m []float64) {
		c := len(m)
		rows := len(x) / c
		if rows == 0 {
			return
		}
		if c >= 8 {
			bnGradSumsAVX512(&sg[0], &sgx[0], &dy[0], &x[0], &m[0], rows, c)
		}
		if v := c &^ 7; v < c {
			for r := 0; r < len(x); r += c {
				gradSumsGo(sg[v:], sgx[v:], dy[r+v:r+c], x[r+v:r+c], m[v:])
			}
		}
	},
}

// bnAvailable lists the batch normalisation implementations this CPU runs,
// fastest first. Without AVX-512 the passes stay in Go: they are bound by
// memory bandwidth more than by arithmetic.
func bnAvailable() []*bnImpl {
	if cpu.X86.HasAVX512F {
		return []*bnImpl{&bnAVX512, &bnGo}
	}
	return []*bnImpl{&bnGo}
}

// bnBest is chosen once; it never changes afterwards.
var bnBest = bnAvailable()[0]
