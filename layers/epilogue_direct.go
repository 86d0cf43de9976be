package layers

import (
	"github.com/effnet-go/effnet/internal/direct"
	"github.com/effnet-go/effnet/internal/parallel"
)

// evalDirect holds the operands of forwardEvalDirect: the direct kernel's
// shape, the zero-padded input, the weights tap-major and the tap offsets.
type evalDirect[T Float] struct {
	shape direct.Shape
	geom  [4]int // N, H, W and channels the padded buffer was cleared for
	xpad  []float32
	wt    []float32
	offs  []int
	x     []float32
	y     []T
	e     *Epilogue[T]
}

// forwardEvalDirect runs a convolution that package direct has a kernel
// for (the stem: 3×3, stride 2, 3 channels in) on a zero-padded copy of
// x, with the epilogue applied to each output row while it is in cache,
// and reports whether it could. A residual or means are left to the other
// paths. ForwardEval has checked the input, bias and activation and set
// the geometry.
func (c *Conv2D[T]) forwardEvalDirect(x *Tensor[T], e *Epilogue[T]) (*Tensor[T], bool) {
	if c.cfg.Groups != 1 || e.Residual != nil || e.Means != nil {
		return nil, false
	}
	x32 := any(x.Data).([]float32)
	in, out, k, s := c.cfg.In, c.cfg.Out, c.cfg.Kernel, c.cfg.Stride
	n, h, w, oh, ow := c.n, c.h, c.w, c.oh, c.ow
	sh := direct.Shape{N: n, HP: (oh-1)*s + k, WP: (ow-1)*s + k, C: in, K: k, S: s, OH: oh, OW: ow, O: out}
	if !direct.Supported(sh) {
		return nil, false
	}
	d := &c.dir
	if geom := [4]int{n, h, w, in}; d.geom != geom || d.shape != sh {
		// Only the interior is copied on each call: the padding must be
		// zero once for this geometry.
		d.xpad = convEnsure(d.xpad, sh.N*sh.HP*sh.WP*in)
		clear(d.xpad)
		d.geom, d.shape = geom, sh
		d.offs = sh.Offsets(d.offs)
	}
	taps := k * k * in
	d.wt = convEnsure(d.wt, taps*out)
	wd := any(c.Weight.Value.Data).([]float32)
	for o := range out {
		for t := range taps {
			d.wt[t*out+o] = wd[o*taps+t]
		}
	}
	dst := c.evalOut(e)
	c.x = nil
	c.colValid = false
	d.x, d.y, d.e = x32, dst.Data, e
	parallel.For(n*h, convGrain(w*in), c.dirPad)
	c.startEpilogue(e, dst.Data)
	parallel.For(n*oh, convGrain(ow*out*taps), c.dirRows)
	c.epi = epilogueRun[T]{}
	d.x, d.y, d.e = nil, nil, nil
	return dst, true
}

// dirPadRange copies input rows [lo, hi) of the N·H rows into the padded
// buffer.
func (c *Conv2D[T]) dirPadRange(lo, hi int) {
	d, in := &c.dir, c.cfg.In
	sh := &d.shape
	for r := lo; r < hi; r++ {
		b, iy := r/c.h, r%c.h
		py := iy + c.padT
		if py >= sh.HP {
			continue // SAME padding may leave the last input rows unread
		}
		cols := min(c.w, sh.WP-c.padL)
		dst := d.xpad[((b*sh.HP+py)*sh.WP+c.padL)*in:]
		copy(dst[:cols*in], d.x[r*c.w*in:r*c.w*in+cols*in])
	}
}

// dirRowsRange computes output rows [lo, hi) and applies the epilogue to
// each while it is in cache.
func (c *Conv2D[T]) dirRowsRange(lo, hi int) {
	d := &c.dir
	y := any(d.y).([]float32)
	for r := lo; r < hi; r++ {
		d.shape.Rows(y, d.xpad, d.wt, d.offs, r, r+1)
		c.epi.chunk(r*c.ow, (r+1)*c.ow)
	}
}
