//go:build amd64 && !noasm

package depthwise

import "golang.org/x/sys/cpu"

//go:generate go run gen_amd64.go

// asmTaps is taps as the assembly reads it: byte strides, and the row
// steps net of the horizontal walk the kernel has already made. Field
// offsets are fixed in gen_amd64.go.
type asmTaps struct {
	nc, npix, nky, nkx       int
	dstPix, xPix, xTap, wTap int
	xRowStep, wRowStep       int
}

// asmDot is dot with byte strides; field offsets are fixed in gen_amd64.go.
type asmDot struct {
	nc, npix, ntap           int
	outTap, aPix, bPix, bTap int
}

//go:noescape
func tapsAVX512(dst, x, w, bias *float32, geom *asmTaps)

//go:noescape
func tapsAVX2(dst, x, w, bias *float32, geom *asmTaps)

//go:noescape
func dotAVX512(out, a, b *float32, geom *asmDot)

//go:noescape
func dotAVX2(out, a, b *float32, geom *asmDot)

var (
	avx512Kernels = kernels{name: "avx512", taps: tapsAVX512Go, dot: dotAVX512Go}
	avx2Kernels   = kernels{name: "avx2", taps: tapsAVX2Go, dot: dotAVX2Go}
)

// available lists the kernels this CPU runs, fastest first. The x/sys/cpu
// AVX flags are set only when the operating system saves the wider
// register state.
func available() []*kernels {
	var ks []*kernels
	if cpu.X86.HasAVX512F {
		ks = append(ks, &avx512Kernels)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &avx2Kernels)
	}
	return append(ks, &goKernels)
}

// best is chosen once; it never changes afterwards.
var best = available()[0]

// checkTaps proves every access of a taps call in bounds and converts it
// to the assembly's form.
func checkTaps(dst []float32, d0 int, x []float32, x0 int, w []float32, w0 int, bias []float32, g taps, nc int) asmTaps {
	lo, hi := span(d0, nc, g.npix, g.dstPix, 1, 0, 1, 0)
	checkSpan("output", lo, hi, len(dst))
	lo, hi = span(x0, nc, g.npix, g.xPix, g.nky, g.xRow, g.nkx, g.xTap)
	checkSpan("input", lo, hi, len(x))
	lo, hi = span(w0, nc, g.nky, g.wRow, g.nkx, g.wTap, 1, 0)
	checkSpan("weight", lo, hi, len(w))
	if bias != nil && len(bias) < nc {
		panic("depthwise: bias too short")
	}
	if g.nky < 1 || g.nkx < 1 || g.npix < 0 {
		panic("depthwise: taps call without taps")
	}
	return asmTaps{
		nc: nc, npix: g.npix, nky: g.nky, nkx: g.nkx,
		dstPix: 4 * g.dstPix, xPix: 4 * g.xPix, xTap: 4 * g.xTap, wTap: 4 * g.wTap,
		xRowStep: 4 * (g.xRow - g.nkx*g.xTap), wRowStep: 4 * (g.wRow - g.nkx*g.wTap),
	}
}

func biasPtr(bias []float32) *float32 {
	if bias == nil {
		return nil
	}
	return &bias[0]
}

func tapsAVX512Go(dst []float32, d0 int, x []float32, x0 int, w []float32, w0 int, bias []float32, g taps) {
	if g.nc == 0 || g.npix == 0 {
		return
	}
	a := checkTaps(dst, d0, x, x0, w, w0, bias, g, g.nc)
	tapsAVX512(&dst[d0], &x[x0], &w[w0], biasPtr(bias), &a)
}

// tapsAVX2Go runs whole blocks of eight channels in assembly and the rest
// in Go: AVX2 has no cheap masked loads to cover a ragged block.
func tapsAVX2Go(dst []float32, d0 int, x []float32, x0 int, w []float32, w0 int, bias []float32, g taps) {
	nc8 := g.nc &^ 7
	if nc8 > 0 && g.npix > 0 {
		a := checkTaps(dst, d0, x, x0, w, w0, bias, g, nc8)
		tapsAVX2(&dst[d0], &x[x0], &w[w0], biasPtr(bias), &a)
	}
	if nc8 < g.nc {
		t := g
		t.nc -= nc8
		if bias != nil {
			bias = bias[nc8:]
		}
		tapsGo(dst, d0+nc8, x, x0+nc8, w, w0+nc8, bias, t)
	}
}

func checkDot(out []float32, o0 int, a []float32, a0 int, b []float32, b0 int, g dot, nc int) asmDot {
	lo, hi := span(o0, nc, g.ntap, g.outTap, 1, 0, 1, 0)
	checkSpan("weight gradient", lo, hi, len(out))
	lo, hi = span(a0, nc, g.npix, g.aPix, 1, 0, 1, 0)
	checkSpan("output gradient", lo, hi, len(a))
	lo, hi = span(b0, nc, g.npix, g.bPix, g.ntap, g.bTap, 1, 0)
	checkSpan("input", lo, hi, len(b))
	if g.ntap < 1 || g.ntap > maxDotTaps || g.aPix < 0 || g.bPix < 0 || g.bTap < 0 || g.outTap < 0 {
		panic("depthwise: bad dot call")
	}
	return asmDot{nc: nc, npix: g.npix, ntap: g.ntap, outTap: 4 * g.outTap, aPix: 4 * g.aPix, bPix: 4 * g.bPix, bTap: 4 * g.bTap}
}

func dotAVX512Go(out []float32, o0 int, a []float32, a0 int, b []float32, b0 int, g dot) {
	if g.nc == 0 || g.npix == 0 {
		return
	}
	d := checkDot(out, o0, a, a0, b, b0, g, g.nc)
	dotAVX512(&out[o0], &a[a0], &b[b0], &d)
}

func dotAVX2Go(out []float32, o0 int, a []float32, a0 int, b []float32, b0 int, g dot) {
	if g.npix == 0 {
		return
	}
	nc8 := g.nc &^ 7
	if nc8 > 0 {
		d := checkDot(out, o0, a, a0, b, b0, g, nc8)
		dotAVX2(&out[o0], &a[a0], &b[b0], &d)
	}
	if nc8 < g.nc {
		t := g
		t.nc -= nc8
		dotGo(out, o0+nc8, a, a0+nc8, b, b0+nc8, t)
	}
}

// laneMasks[n] has the low n of 16 bits set: the opmask of a block with n
// channels left. The AVX-512 kernels read it; it is never written.
var laneMasks = [17]uint16{
	0x0000, 0x0001, 0x0003, 0x0007, 0x000f, 0x001f, 0x003f, 0x007f,
	0x00ff, 0x01ff, 0x03ff, 0x07ff, 0x0fff, 0x1fff, 0x3fff, 0x7fff, 0xffff,
}
