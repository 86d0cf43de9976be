//go:build amd64 && !noasm

package vmath

import "golang.org/x/sys/cpu"

// The assembly loops (bn_amd64.s) run rows of c channels and cover the
// first c &^ 7 channels of each row (all EfficientNet widths are multiples
// of 8); the wrappers run any other channels in Go.

//go:noescape
func bnNormAVX512(dst, x, m, a, b *float32, rows, c int)

//go:noescape
func bnNormGradAVX512(dst, dy, x, m, a, xc, b *float32, rows, c int)

//go:noescape
func bnSumsAVX512(s1, s2 *float64, x *float32, base *float64, rows, c int)

//go:noescape
func bnGradSumsAVX512(sg, sgx *float64, dy, x *float32, m *float64, rows, c int)

//go:noescape
func bnNormAVX2(dst, x, m, a, b *float32, rows, c int)

//go:noescape
func bnNormGradAVX2(dst, dy, x, m, a, xc, b *float32, rows, c int)

//go:noescape
func bnSumsAVX2(s1, s2 *float64, x *float32, base *float64, rows, c int)

//go:noescape
func bnGradSumsAVX2(sg, sgx *float64, dy, x *float32, m *float64, rows, c int)

// bnVector builds a bnImpl from assembly loops over the first c &^ 7
// channels of each row.
func bnVector(name string,
	norm func(dst, x, m, a, b *float32, rows, c int),
	normGrad func(dst, dy, x, m, a, xc, b *float32, rows, c int),
	sums func(s1, s2 *float64, x *float32, base *float64, rows, c int),
	gradSums func(sg, sgx *float64, dy, x *float32, m *float64, rows, c int),
) bnImpl {
	return bnImpl{
		name: name,
		norm: func(dst, x, m, a, b []float32) {
			c := len(m)
			rows := len(x) / c
			if rows == 0 {
				return
			}
			if c >= 8 {
				norm(&dst[0], &x[0], &m[0], &a[0], &b[0], rows, c)
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
				normGrad(&dst[0], &dy[0], &x[0], &m[0], &a[0], &xc[0], &b[0], rows, c)
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
				sums(&s1[0], &s2[0], &x[0], &base[0], rows, c)
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
				gradSums(&sg[0], &sgx[0], &dy[0], &x[0], &m[0], rows, c)
			}
			if v := c &^ 7; v < c {
				for r := 0; r < len(x); r += c {
					gradSumsGo(sg[v:], sgx[v:], dy[r+v:r+c], x[r+v:r+c], m[v:])
				}
			}
		},
	}
}

var (
	bnAVX512 = bnVector("avx512", bnNormAVX512, bnNormGradAVX512, bnSumsAVX512, bnGradSumsAVX512)
	bnAVX2   = bnVector("avx2", bnNormAVX2, bnNormGradAVX2, bnSumsAVX2, bnGradSumsAVX2)
)

// bnAvailable lists the batch normalisation implementations this CPU runs,
// fastest first.
func bnAvailable() []*bnImpl {
	var is []*bnImpl
	if cpu.X86.HasAVX512F {
		is = append(is, &bnAVX512)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		is = append(is, &bnAVX2)
	}
	return append(is, &bnGo)
}

// bnBest is chosen once; it never changes afterwards.
var bnBest = bnAvailable()[0]
