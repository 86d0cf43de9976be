package depthwise

import "fmt"

// Shape is the geometry of a depthwise convolution: NHWC input
// [N, H, W, C], one K×K filter per channel stored tap-major as [K·K, C],
// output [N, OH, OW, C].
type Shape struct {
	N, H, W, C int // input batch, height, width and channels
	K, Stride  int // square kernel size and stride
	PadT, PadL int // zero rows above and columns left of the input
	OH, OW     int // output height and width
}

func (s *Shape) String() string {
	return fmt.Sprintf("depthwise N=%d H=%d W=%d C=%d K=%d stride=%d pad=(%d,%d) out=%d×%d",
		s.N, s.H, s.W, s.C, s.K, s.Stride, s.PadT, s.PadL, s.OH, s.OW)
}

// check panics when a slice is too short for the shape: a programmer bug
// in the calling layer, which validates user shapes itself.
func (s *Shape) check(what string, got, want int) {
	if got < want {
		panic(fmt.Sprintf("depthwise: %s has %d elements, %v needs %d", what, got, s, want))
	}
}

// Forward computes output rows [lo, hi) of the N·OH rows of
//
//	out[b, oy, ox, c] = bias[c] + Σ x[b, oy·S-PadT+ky, ox·S-PadL+kx, c] · wt[ky·K+kx, c]
//
// over the taps inside the input. bias may be nil. Rows are independent,
// so disjoint ranges may run concurrently.
func (s *Shape) Forward(out, x, wt, bias []float32, lo, hi int) {
	if bias == nil {
		s.forward(best, out, x, wt, nil, lo, hi)
		return
	}
	e := Epilogue{Bias: bias}
	s.forward(best, out, x, wt, &e, lo, hi)
}

// InputGrad computes rows [lo, hi) of the N·H input rows of the input
// gradient dx from the output gradient dy. Rows are independent.
func (s *Shape) InputGrad(dx, dy, wt []float32, lo, hi int) {
	s.inputGrad(best, dx, dy, wt, lo, hi)
}

// WeightGrad adds into part [K·K, C] the weight gradient contributed by
// output rows [lo, hi) of the N·OH rows, and into biasPart [C], when it is
// not nil, the bias gradient. Concurrent calls need separate partials.
func (s *Shape) WeightGrad(part, biasPart, x, dy []float32, lo, hi int) {
	s.weightGrad(best, part, biasPart, x, dy, lo, hi)
}

// fill writes bias (or zeros) into npix pixels of C channels at stride
// pix.
func fill(dst []float32, npix, pix, C int, bias []float32) {
	for p := 0; p < npix; p++ {
		d := dst[p*pix : p*pix+C]
		if bias == nil {
			clear(d)
		} else {
			copy(d, bias)
		}
	}
}

// prefetchBytes is the input size above which the row kernels prefetch
// the input rows that the next output row adds. Such inputs stream from
// L3 or memory, and the prefetch made stride 1 up to 1.6 times faster on
// B0's shapes at 112 and 56 px (stride 2 about 1.3 times); on smaller
// inputs, already in cache, it only cost instructions.
const prefetchBytes = 8 << 20

// forward computes output rows [lo, hi) and runs the epilogue e (nil for
// none) on each row while it is in cache.
func (s *Shape) forward(ks *kernels, out, x, wt []float32, e *Epilogue, lo, hi int) {
	C, k, st := s.C, s.K, s.Stride
	s.check("input", len(x), s.N*s.H*s.W*C)
	s.check("output", len(out), s.N*s.OH*s.OW*C)
	s.check("weight", len(wt), k*k*C)
	var scale, bias []float32
	if e != nil {
		s.checkEpilogue(e)
		scale, bias = e.Scale, e.Bias
	}
	g := taps{dstPix: C, xPix: st * C, xTap: C, xRow: s.W * C, wTap: C, wRow: k * C}
	rg := row{k: k, stride: st, w: s.W, padL: s.PadL, ow: s.OW, pix: C, xRow: s.W * C}
	prefetch := 4*s.N*s.H*s.W*C > prefetchBytes
	for r := lo; r < hi; r++ {
		b, oy := r/s.OH, r%s.OH
		iy0 := oy*st - s.PadT
		ky0, ky1 := max(0, -iy0), min(k, s.H-iy0)
		row := r * s.OW * C
		c0 := 0
		if ky1 <= ky0 {
			fill(out[row:], s.OW, C, C, nil)
		} else if ks.row != nil {
			rg.nc, rg.nky = C, ky1-ky0
			if prefetch {
				rg.pf = (k - ky0) * s.W * C
			}
			c0 = ks.row(out, row, x, (b*s.H+iy0+ky0)*s.W*C, wt, ky0*k*C, scale, bias, rg)
		}
		if c0 < C && ky1 > ky0 {
			// The channels from c0 on go in runs of output pixels that
			// see the same horizontal taps: the left border, the interior
			// and the right border. The bias joins the sum only when no
			// scale comes first.
			g.nc, g.nky = C-c0, ky1-ky0
			var cb []float32
			if bias != nil && scale == nil {
				cb = bias[c0:]
			}
			for ox := 0; ox < s.OW; {
				ix0 := ox*st - s.PadL
				kx0, kx1 := max(0, -ix0), min(k, s.W-ix0)
				end := ox + 1
				for ; end < s.OW; end++ {
					ix := end*st - s.PadL
					if max(0, -ix) != kx0 || min(k, s.W-ix) != kx1 {
						break
					}
				}
				g.npix = end - ox
				d0 := row + ox*C + c0
				if kx1 <= kx0 {
					fill(out[d0:], g.npix, C, g.nc, cb)
				} else {
					g.nkx = kx1 - kx0
					x0 := ((b*s.H+iy0+ky0)*s.W+ix0+kx0)*C + c0
					ks.taps(out, d0, x, x0, wt, (ky0*k+kx0)*C+c0, cb, g)
				}
				ox = end
			}
		}
		if scale != nil || (bias != nil && ky1 <= ky0) {
			affine(out[row:row+s.OW*C], C, c0, scale, bias)
		}
		if e != nil {
			s.finishRow(out[row:row+s.OW*C], b, e)
		}
	}
}

// firstTap returns the first tap t ≡ pos (mod stride) whose output index
// (pos-t)/stride is below n, and one past the last tap below k with
// t <= pos: the taps of an input position pos (padding included) that a
// transposed convolution gathers.
func firstTap(pos, stride, n, k int) (t0, t1 int) {
	t0 = pos % stride
	if lowest := pos - stride*(n-1); lowest > t0 {
		t0 += (lowest - t0 + stride - 1) / stride * stride
	}
	return t0, min(k, pos+1)
}

func (s *Shape) inputGrad(ks *kernels, dx, dy, wt []float32, lo, hi int) {
	C, k, st := s.C, s.K, s.Stride
	s.check("input gradient", len(dx), s.N*s.H*s.W*C)
	s.check("output gradient", len(dy), s.N*s.OH*s.OW*C)
	s.check("weight", len(wt), k*k*C)
	// At stride 1 the input gradient is a convolution of dy with the
	// kernel turned by 180 degrees and padding K-1-pad: the row kernels
	// run it with their flipped variants, row by row; channels they leave
	// go through the taps loop below.
	c0 := 0
	if st == 1 && ks.row != nil && s.PadT < k && s.PadL < k {
		c0 = s.inputGradRows(ks, dx, dy, wt, lo, hi)
		if c0 == C {
			return
		}
	}
	// dx[iy, ix] = Σ dy[(iy+PadT-ky)/S, (ix+PadL-kx)/S]·w[ky, kx] over the
	// taps with iy+PadT ≡ ky and ix+PadL ≡ kx (mod S): stepping a tap by S
	// steps dy back by one row or pixel. Input pixels of one residue class
	// mod S share their taps; within a class consecutive pixels read
	// consecutive dy pixels.
	g := taps{nc: C - c0, dstPix: st * C, xPix: C, xTap: -C, xRow: -s.OW * C, wTap: st * C, wRow: st * k * C}
	for r := lo; r < hi; r++ {
		b, iy := r/s.H, r%s.H
		ty := iy + s.PadT
		ky0, ky1 := firstTap(ty, st, s.OH, k)
		row := r*s.W*C + c0
		if ky1 <= ky0 {
			fill(dx[row:], s.W, C, C-c0, nil)
			continue
		}
		g.nky = (ky1 - ky0 + st - 1) / st
		for class := 0; class < min(st, s.W); class++ {
			for ix := class; ix < s.W; {
				tx := ix + s.PadL
				kx0, kx1 := firstTap(tx, st, s.OW, k)
				end := ix + st
				for ; end < s.W; end += st {
					if a, b := firstTap(end+s.PadL, st, s.OW, k); a != kx0 || b != kx1 {
						break
					}
				}
				g.npix = (end - ix) / st
				d0 := row + ix*C
				if kx1 <= kx0 {
					fill(dx[d0:], g.npix, st*C, C-c0, nil)
				} else {
					g.nkx = (kx1 - kx0 + st - 1) / st
					x0 := ((b*s.OH+(ty-ky0)/st)*s.OW+(tx-kx0)/st)*C + c0
					ks.taps(dx, d0, dy, x0, wt, (ky0*k+kx0)*C+c0, nil, g)
				}
				ix = end
			}
		}
	}
}

// inputGradRows computes rows [lo, hi) of the input gradient at stride 1
// on the flipped row kernels and returns how many leading channels they
// covered (the same for every row). Row iy of dx is output row iy of the
// convolution of dy, an OH×OW map, with padding PadT' = K-1-PadT and
// PadL' = K-1-PadL: its kernel row ky' reads dy row iy-PadT'+ky' with
// weights row K-1-ky', reversed.
func (s *Shape) inputGradRows(ks *kernels, dx, dy, wt []float32, lo, hi int) int {
	C, k := s.C, s.K
	padT := k - 1 - s.PadT
	rg := row{k: k, stride: 1, w: s.OW, padL: k - 1 - s.PadL, ow: s.W, pix: C, xRow: s.OW * C, flip: true}
	prefetch := 4*s.N*s.OH*s.OW*C > prefetchBytes
	done := C
	for r := lo; r < hi; r++ {
		b, iy := r/s.H, r%s.H
		iy0 := iy - padT
		ky0, ky1 := max(0, -iy0), min(k, s.OH-iy0)
		d0 := r * s.W * C
		if ky1 <= ky0 {
			fill(dx[d0:], s.W, C, C, nil)
			continue
		}
		rg.nc, rg.nky = C, ky1-ky0
		if prefetch {
			rg.pf = (k - ky0) * s.OW * C
		}
		c0 := ks.row(dx, d0, dy, (b*s.OH+iy0+ky0)*s.OW*C, wt, (k-1-ky0)*k*C, nil, nil, rg)
		if c0 == 0 {
			return 0 // no row kernel for this geometry: the taps loop does all
		}
		done = c0
	}
	return done
}

// tapRange returns the output columns [lo, hi) for which horizontal tap kx
// falls inside the input.
func (s *Shape) tapRange(kx int) (lo, hi int) {
	d := s.PadL - kx // ox·S >= d and ox·S <= W-1+d
	if d > 0 {
		lo = (d + s.Stride - 1) / s.Stride
	}
	e := s.W - 1 + d
	if e < 0 {
		return 0, 0
	}
	hi = min(e/s.Stride+1, s.OW)
	if lo > hi {
		return 0, 0
	}
	return lo, hi
}

func (s *Shape) weightGrad(ks *kernels, part, biasPart, x, dy []float32, lo, hi int) {
	C, k, st := s.C, s.K, s.Stride
	s.check("input", len(x), s.N*s.H*s.W*C)
	s.check("output gradient", len(dy), s.N*s.OH*s.OW*C)
	s.check("weight gradient", len(part), k*k*C)
	// Columns [in0, in1) are those where every horizontal tap is inside the
	// input: there one kernel call per kernel row sums all taps while
	// loading each dy vector once. Each tap's border columns go one tap at
	// a time.
	in0, in1 := 0, s.OW
	for kx := 0; kx < k; kx++ {
		l, h := s.tapRange(kx)
		in0, in1 = max(in0, l), min(in1, h)
	}
	g := dot{nc: C, outTap: C, aPix: C, bPix: st * C, bTap: C}
	for r := lo; r < hi; r++ {
		b, oy := r/s.OH, r%s.OH
		dyRow := r * s.OW * C
		if biasPart != nil {
			bp := biasPart[:C]
			for ox := 0; ox < s.OW; ox++ {
				d := dy[dyRow+ox*C:][:C]
				for c, v := range d {
					bp[c] += v
				}
			}
		}
		for ky := 0; ky < k; ky++ {
			iy := oy*st - s.PadT + ky
			if iy < 0 || iy >= s.H {
				continue
			}
			xRow := (b*s.H + iy) * s.W * C
			// x offset of tap kx at output column ox.
			xAt := func(ox, kx int) int { return xRow + (ox*st-s.PadL+kx)*C }
			if in0 < in1 {
				g.npix = in1 - in0
				for t0 := 0; t0 < k; t0 += maxDotTaps {
					g.ntap = min(maxDotTaps, k-t0)
					ks.dot(part, (ky*k+t0)*C, dy, dyRow+in0*C, x, xAt(in0, t0), g)
				}
			}
			g.ntap = 1
			for kx := 0; kx < k; kx++ {
				l, h := s.tapRange(kx)
				if in0 >= in1 { // no common interior: the whole range here
					if l < h {
						g.npix = h - l
						ks.dot(part, (ky*k+kx)*C, dy, dyRow+l*C, x, xAt(l, kx), g)
					}
					continue
				}
				if l < in0 {
					g.npix = in0 - l
					ks.dot(part, (ky*k+kx)*C, dy, dyRow+l*C, x, xAt(l, kx), g)
				}
				if in1 < h {
					g.npix = h - in1
					ks.dot(part, (ky*k+kx)*C, dy, dyRow+in1*C, x, xAt(in1, kx), g)
				}
			}
		}
	}
}
