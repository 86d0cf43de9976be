//go:build amd64 && !noasm

package vmath

import "golang.org/x/sys/cpu"

//go:generate go run gen_amd64.go

// The assembly loops take n, a multiple of the vector width, elements;
// the Go wrappers run the rest in Go.

//go:noescape
func sigmoidAVX512(dst, x *float32, n int)

//go:noescape
func siluAVX512(dst, sig, x *float32, n int)

//go:noescape
func sigmoidGradAVX512(dx, dy, sig *float32, n int)

//go:noescape
func siluGradAVX512(dx, dy, x, sig *float32, n int)

//go:noescape
func siluGradXAVX512(dx, dy, x *float32, n int)

//go:noescape
func sigmoidAVX2(dst, x *float32, n int)

//go:noescape
func siluAVX2(dst, sig, x *float32, n int)

//go:noescape
func sigmoidGradAVX2(dx, dy, sig *float32, n int)

//go:noescape
func siluGradAVX2(dx, dy, x, sig *float32, n int)

//go:noescape
func siluGradXAVX2(dx, dy, x *float32, n int)

// vector builds an impl from assembly loops over whole vectors of width
// floats.
func vector(name string, width int,
	sig func(dst, x *float32, n int),
	silu func(dst, sig, x *float32, n int),
	sigGrad func(dx, dy, sig *float32, n int),
	siluGrad func(dx, dy, x, sig *float32, n int),
	siluGradX func(dx, dy, x *float32, n int),
) impl {
	return impl{
		name: name,
		sigmoid: func(dst, x []float32) {
			m := len(x) &^ (width - 1)
			if m > 0 {
				_ = dst[m-1]
				sig(&dst[0], &x[0], m)
			}
			sigmoidGo(dst[m:], x[m:])
		},
		silu: func(dst, s, x []float32) {
			m := len(x) &^ (width - 1)
			if m > 0 {
				_ = dst[m-1]
				var sp *float32
				if s != nil {
					_ = s[m-1]
					sp = &s[0]
				}
				silu(&dst[0], sp, &x[0], m)
			}
			if s != nil {
				s = s[m:]
			}
			siluGo(dst[m:], s, x[m:])
		},
		sigmoidGrad: func(dx, dy, s []float32) {
			m := len(s) &^ (width - 1)
			if m > 0 {
				_, _ = dx[m-1], dy[m-1]
				sigGrad(&dx[0], &dy[0], &s[0], m)
			}
			sigmoidGradGo(dx[m:], dy[m:], s[m:])
		},
		siluGrad: func(dx, dy, x, s []float32) {
			m := len(s) &^ (width - 1)
			if m > 0 {
				_, _, _ = dx[m-1], dy[m-1], x[m-1]
				siluGrad(&dx[0], &dy[0], &x[0], &s[0], m)
			}
			siluGradGo(dx[m:], dy[m:], x[m:], s[m:])
		},
		siluGradX: func(dx, dy, x []float32) {
			m := len(x) &^ (width - 1)
			if m > 0 {
				_, _ = dx[m-1], dy[m-1]
				siluGradX(&dx[0], &dy[0], &x[0], m)
			}
			siluGradXGo(dx[m:], dy[m:], x[m:])
		},
	}
}

var (
	avx512Impl = vector("avx512", 16, sigmoidAVX512, siluAVX512, sigmoidGradAVX512, siluGradAVX512, siluGradXAVX512)
	avx2Impl   = vector("avx2", 8, sigmoidAVX2, siluAVX2, sigmoidGradAVX2, siluGradAVX2, siluGradXAVX2)
)

// available lists the implementations this CPU runs, fastest first. The
// x/sys/cpu AVX flags are set only when the operating system saves the
// wider register state.
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
