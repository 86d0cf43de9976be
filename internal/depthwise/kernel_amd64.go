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

// asmRow is a row call as the assembly reads it: byte strides, the input
// column bounds jlo, jhi of the first pixel group and the byte offset of
// its first column, the channel chunk in bytes and the first group size;
// chanOff, chunkLo and chunkHi are the kernel's scratch. Field offsets are
// fixed in gen_amd64.go.
type asmRow struct {
	nc, ow, nky, xRow, wRow, pix int
	jlo, jhi, xOff               int
	chanOff, chanEnd             int
	chunk, chunkLo, chunkHi      int
	start, pf                    int
}

//go:noescape
func rowK3S1AVX512(dst, x, w, scale, bias *float32, geom *asmRow)

//go:noescape
func rowK3S2AVX512(dst, x, w, scale, bias *float32, geom *asmRow)

//go:noescape
func rowK5S1AVX512(dst, x, w, scale, bias *float32, geom *asmRow)

//go:noescape
func rowK5S2AVX512(dst, x, w, scale, bias *float32, geom *asmRow)

//go:noescape
func rowK3S1FlipAVX512(dst, x, w, scale, bias *float32, geom *asmRow)

//go:noescape
func rowK5S1FlipAVX512(dst, x, w, scale, bias *float32, geom *asmRow)

//go:noescape
func rowK3S1FlipAVX2(dst, x, w, scale, bias *float32, geom *asmRow)

//go:noescape
func rowK5S1FlipAVX2(dst, x, w, scale, bias *float32, geom *asmRow)

//go:noescape
func rowK3S1AVX2(dst, x, w, scale, bias *float32, geom *asmRow)

//go:noescape
func rowK3S2AVX2(dst, x, w, scale, bias *float32, geom *asmRow)

//go:noescape
func rowK5S1AVX2(dst, x, w, scale, bias *float32, geom *asmRow)

//go:noescape
func rowK5S2AVX2(dst, x, w, scale, bias *float32, geom *asmRow)

var (
	avx512Kernels = kernels{name: "avx512", taps: tapsAVX512Go, dot: dotAVX512Go, row: rowAVX512Go}
	avx2Kernels   = kernels{name: "avx2", taps: tapsAVX2Go, dot: dotAVX2Go, row: rowAVX2Go}
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

// hasRow reports whether a row kernel covers the geometry: the kernel
// sizes and strides of EfficientNet (flipped kernels at stride 1 only),
// with padding of less than a kernel on either side, so that only a
// group's first and last K-1 input columns can fall outside the row.
func hasRow(g *row) bool {
	padR := (g.ow-1)*g.stride + g.k - g.w - g.padL
	return (g.k == 3 || g.k == 5) && (g.stride == 1 || (g.stride == 2 && !g.flip)) &&
		g.padL >= 0 && g.padL < g.k && padR < g.k
}

// runRow proves the accesses of a row call in bounds and runs the row
// kernel on its first nc channels. The kernels are called directly, not
// through a function value, so that the geometry stays on the stack.
func runRow(avx512 bool, maxGroup int, dst []float32, d0 int, x []float32, x0 int, w []float32, w0 int, scale, bias []float32, g *row, nc int) {
	lo, hi := span(d0, nc, g.ow, g.pix, 1, 0, 1, 0)
	checkSpan("output", lo, hi, len(dst))
	lo, hi = span(x0, nc, g.nky, g.xRow, g.w, g.pix, 1, 0)
	checkSpan("input", lo, hi, len(x))
	wRow := g.k * g.pix
	if g.flip {
		wRow = -wRow
	}
	lo, hi = span(w0, nc, g.nky, wRow, g.k, g.pix, 1, 0)
	checkSpan("weight", lo, hi, len(w))
	if (bias != nil && len(bias) < nc) || (scale != nil && len(scale) < nc) {
		panic("depthwise: bias or scale too short")
	}
	if g.nky < 1 || g.ow < 1 || !hasRow(g) {
		panic("depthwise: bad row call")
	}
	a := asmRow{
		nc: nc, ow: g.ow, nky: g.nky, xRow: 4 * g.xRow, wRow: 4 * wRow, pix: 4 * g.pix,
		jlo: g.padL, jhi: g.w + g.padL, xOff: -4 * g.padL * g.pix, chanEnd: 4 * nc,
		chunk: 4 * rowChunk, start: groupSize(g.ow, maxGroup), pf: 4 * g.pf,
	}
	pd, px, pw, ps, pb := &dst[d0], &x[x0], &w[w0], biasPtr(scale), biasPtr(bias)
	switch {
	case avx512 && g.flip && g.k == 3:
		rowK3S1FlipAVX512(pd, px, pw, ps, pb, &a)
	case avx512 && g.flip:
		rowK5S1FlipAVX512(pd, px, pw, ps, pb, &a)
	case g.flip && g.k == 3:
		rowK3S1FlipAVX2(pd, px, pw, ps, pb, &a)
	case g.flip:
		rowK5S1FlipAVX2(pd, px, pw, ps, pb, &a)
	case avx512 && g.k == 3 && g.stride == 1:
		rowK3S1AVX512(pd, px, pw, ps, pb, &a)
	case avx512 && g.k == 3:
		rowK3S2AVX512(pd, px, pw, ps, pb, &a)
	case avx512 && g.stride == 1:
		rowK5S1AVX512(pd, px, pw, ps, pb, &a)
	case avx512:
		rowK5S2AVX512(pd, px, pw, ps, pb, &a)
	case g.k == 3 && g.stride == 1:
		rowK3S1AVX2(pd, px, pw, ps, pb, &a)
	case g.k == 3:
		rowK3S2AVX2(pd, px, pw, ps, pb, &a)
	case g.stride == 1:
		rowK5S1AVX2(pd, px, pw, ps, pb, &a)
	default:
		rowK5S2AVX2(pd, px, pw, ps, pb, &a)
	}
}

func rowAVX512Go(dst []float32, d0 int, x []float32, x0 int, w []float32, w0 int, scale, bias []float32, g row) int {
	if !hasRow(&g) || g.nc == 0 {
		return 0
	}
	runRow(true, 16, dst, d0, x, x0, w, w0, scale, bias, &g, g.nc)
	return g.nc
}

// rowAVX2Go runs whole blocks of eight channels and leaves the rest to the
// caller.
func rowAVX2Go(dst []float32, d0 int, x []float32, x0 int, w []float32, w0 int, scale, bias []float32, g row) int {
	nc8 := g.nc &^ 7
	if !hasRow(&g) || nc8 == 0 {
		return 0
	}
	runRow(false, 8, dst, d0, x, x0, w, w0, scale, bias, &g, nc8)
	return nc8
}

// laneMasks[n] has the low n of 16 bits set: the opmask of a block with n
// channels left. The AVX-512 kernels read it; it is never written.
var laneMasks = [17]uint16{
	0x0000, 0x0001, 0x0003, 0x0007, 0x000f, 0x001f, 0x003f, 0x007f,
	0x00ff, 0x01ff, 0x03ff, 0x07ff, 0x0fff, 0x1fff, 0x3fff, 0x7fff, 0xffff,
}

// rowChunk is how many channels the row kernels take through all pixel
// groups of a row before moving on: four vectors of AVX-512, so that a
// group's input columns are read in runs of 256 contiguous bytes, while a
// chunk of K input rows stays in L1 for the next group even in rows of
// 1152 channels. (Measured on B0's shapes, 16 to all channels made less
// difference than the noise on shapes bound by memory; narrow rows of many
// channels, in cache, were fastest around 64.)
const rowChunk = 64

// groupSize returns the pixel group size that splits a row of ow pixels
// into the fewest groups of at most max pixels, as evenly as possible:
// B0's rows of 56, 28, 14 and 7 go in groups of 14 or 7 rather than 16 and
// a ragged remainder of short groups.
func groupSize(ow, max int) int {
	n := (ow + max - 1) / max
	return (ow + n - 1) / n
}
