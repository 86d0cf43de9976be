package depthwise

// taps describes one call of the tap kernel: for npix pixels p and nc
// channels c,
//
//	dst[d0 + p·dstPix + c] = bias[c] + Σ x[x0 + p·xPix + ky·xRow + kx·xTap + c] · w[w0 + ky·wRow + kx·wTap + c]
//
// summed over ky < nky, kx < nkx (bias nil counts as zero). Strides are in
// elements and may be negative: the input gradient walks dy backwards as
// the kernel tap advances. The forward convolution and its input gradient
// are both this loop with different strides.
type taps struct {
	nc, npix, nky, nkx       int
	dstPix, xPix, xTap, xRow int
	wTap, wRow               int
}

// dot describes one call of the dot kernel: for ntap taps t and nc
// channels c,
//
//	out[o0 + t·outTap + c] += Σ_p a[a0 + p·aPix + c] · b[b0 + p·bPix + t·bTap + c]
//
// summed over p < npix. It is the weight gradient of one output row and
// kernel row: a is dy, b the input row, t the horizontal tap. All strides
// are positive.
type dot struct {
	nc, npix, ntap           int
	outTap, aPix, bPix, bTap int
}

// row describes one call of the row kernel: output row d0 of ow pixels
// from the nky input rows at x0, x0+xRow, ... (each w pixels wide, pix
// elements per pixel) and the weights of the matching kernel rows from
// w0, for all k horizontal taps, padL zero columns on the left and the
// given stride. Channels nc; pixels are pix apart in dst, x and the
// weights' taps.
type row struct {
	nc, ow, nky, k, stride, w, padL int
	pix, xRow                       int
	pf                              int  // offset of the rows to prefetch from x0, or 0
	flip                            bool // kernel turned by 180°: rows from w0 backwards, taps reversed
}

// maxDotTaps bounds dot.ntap: the assembly keeps two sets of ntap
// accumulators (two pixels in flight) plus two dy registers, which for
// five taps uses 12 of the 16 ymm registers of AVX2.
const maxDotTaps = 5

// kernels is one implementation of the two inner loops.
type kernels struct {
	name string
	taps func(dst []float32, d0 int, x []float32, x0 int, w []float32, w0 int, bias []float32, g taps)
	dot  func(out []float32, o0 int, a []float32, a0 int, b []float32, b0 int, g dot)
	// row, when not nil, computes the first channels of a whole output
	// row in one call, each output times scale[c] plus bias[c] (nil
	// meaning 1 and 0), and returns how many; the caller does the rest.
	row func(dst []float32, d0 int, x []float32, x0 int, w []float32, w0 int, scale, bias []float32, g row) int
}

// goKernels is the portable implementation, used on CPUs without AVX2 and
// with the noasm build tag, and as the reference the assembly is tested
// against.
var goKernels = kernels{name: "go", taps: tapsGo, dot: dotGo}

// tapsGo keeps blocks of eight channels in scalar accumulators across all
// taps, so that the inner loop only loads: accumulating in memory costs a
// load and a store per multiply-add and ran at about half the speed.
func tapsGo(dst []float32, d0 int, x []float32, x0 int, w []float32, w0 int, bias []float32, g taps) {
	nc := g.nc
	for p := 0; p < g.npix; p++ {
		d := dst[d0+p*g.dstPix:][:nc]
		xp := x0 + p*g.xPix
		ch := 0
		for ; ch+8 <= nc; ch += 8 {
			var a0, a1, a2, a3, a4, a5, a6, a7 float32
			if bias != nil {
				bb := bias[ch : ch+8 : ch+8]
				a0, a1, a2, a3, a4, a5, a6, a7 = bb[0], bb[1], bb[2], bb[3], bb[4], bb[5], bb[6], bb[7]
			}
			for ky := 0; ky < g.nky; ky++ {
				xo := xp + ky*g.xRow + ch
				wo := w0 + ky*g.wRow + ch
				for kx := 0; kx < g.nkx; kx++ {
					xs, ws := x[xo:xo+8:xo+8], w[wo:wo+8:wo+8]
					a0 += xs[0] * ws[0]
					a1 += xs[1] * ws[1]
					a2 += xs[2] * ws[2]
					a3 += xs[3] * ws[3]
					a4 += xs[4] * ws[4]
					a5 += xs[5] * ws[5]
					a6 += xs[6] * ws[6]
					a7 += xs[7] * ws[7]
					xo += g.xTap
					wo += g.wTap
				}
			}
			dd := d[ch : ch+8 : ch+8]
			dd[0], dd[1], dd[2], dd[3], dd[4], dd[5], dd[6], dd[7] = a0, a1, a2, a3, a4, a5, a6, a7
		}
		for ; ch < nc; ch++ {
			var a float32
			if bias != nil {
				a = bias[ch]
			}
			for ky := 0; ky < g.nky; ky++ {
				xo := xp + ky*g.xRow + ch
				wo := w0 + ky*g.wRow + ch
				for kx := 0; kx < g.nkx; kx++ {
					a += x[xo] * w[wo]
					xo += g.xTap
					wo += g.wTap
				}
			}
			d[ch] = a
		}
	}
}

// dotGo sums each tap and block of eight channels over all pixels in
// scalar registers before touching out.
func dotGo(out []float32, o0 int, a []float32, a0 int, b []float32, b0 int, g dot) {
	nc := g.nc
	for t := 0; t < g.ntap; t++ {
		o := out[o0+t*g.outTap:][:nc]
		bt := b0 + t*g.bTap
		ch := 0
		for ; ch+8 <= nc; ch += 8 {
			var s0, s1, s2, s3, s4, s5, s6, s7 float32
			ao, bo := a0+ch, bt+ch
			for p := 0; p < g.npix; p++ {
				as, bs := a[ao:ao+8:ao+8], b[bo:bo+8:bo+8]
				s0 += as[0] * bs[0]
				s1 += as[1] * bs[1]
				s2 += as[2] * bs[2]
				s3 += as[3] * bs[3]
				s4 += as[4] * bs[4]
				s5 += as[5] * bs[5]
				s6 += as[6] * bs[6]
				s7 += as[7] * bs[7]
				ao += g.aPix
				bo += g.bPix
			}
			oo := o[ch : ch+8 : ch+8]
			oo[0] += s0
			oo[1] += s1
			oo[2] += s2
			oo[3] += s3
			oo[4] += s4
			oo[5] += s5
			oo[6] += s6
			oo[7] += s7
		}
		for ; ch < nc; ch++ {
			var s float32
			ao, bo := a0+ch, bt+ch
			for p := 0; p < g.npix; p++ {
				s += a[ao] * b[bo]
				ao += g.aPix
				bo += g.bPix
			}
			o[ch] += s
		}
	}
}

// span returns the lowest and one past the highest element index that a
// kernel reads or writes starting at base: nc channels at every
// combination of n1 steps of s1, n2 of s2 and n3 of s3.
func span(base, nc, n1, s1, n2, s2, n3, s3 int) (lo, hi int) {
	lo, hi = base, base+nc
	for _, d := range [3]int{(n1 - 1) * s1, (n2 - 1) * s2, (n3 - 1) * s3} {
		if d < 0 {
			lo += d
		} else {
			hi += d
		}
	}
	return lo, hi
}

// checkSpan panics unless [lo, hi) lies within a slice of length n. The
// assembly takes raw pointers, so the Go wrapper must prove every access
// in bounds first.
func checkSpan(what string, lo, hi, n int) {
	if lo < 0 || hi > n {
		panic("depthwise: " + what + " access out of range")
	}
}
