package layers

import (
	"github.com/effnet-go/effnet/internal/depthwise"
	"github.com/effnet-go/effnet/internal/parallel"
)

// forwardEvalDepthwise runs a depthwise convolution with the epilogue
// applied by the kernel to each output row while it is in cache
// (depthwise.Shape.ForwardEpilogue), squeeze-excite's channel sums
// included, and reports whether it could: a residual is left to the
// general path, which EfficientNet never needs here. ForwardEval has
// checked the input, bias and activation and set the geometry.
func (c *Conv2D[T]) forwardEvalDepthwise(x *Tensor[T], e *Epilogue[T]) (*Tensor[T], bool) {
	if e.Residual != nil {
		return nil, false
	}
	x32 := any(x.Data).([]float32)
	k, C := c.cfg.Kernel, c.cfg.In
	dst := c.evalOut(e)
	c.x = nil
	c.transposeDepthwise()
	d := c.depthwise32()
	d.wt, d.x, d.out = any(c.wt).([]float32), x32, any(dst.Data).([]float32)
	d.epi = depthwise.Epilogue{Scale: any(e.Scale).([]float32), Bias: any(e.Bias).([]float32)}
	if e.Act == SiLU {
		d.epi.Act = depthwise.ActSiLU
	}
	rows := c.n * c.oh
	if e.Means == nil {
		parallel.For(rows, convGrain(c.ow*C*k*k), d.fwdEpi)
	} else {
		// Each block of rows sums into a partial of its own: blocks run
		// concurrently. Four blocks per core let a core that finishes
		// early take over rows rather than wait.
		p := min(rows, 4*convBlocks(rows))
		d.rows, d.blocks = rows, p
		d.chanSums = convEnsure(d.chanSums, p*c.n*C)
		clear(d.chanSums)
		for len(d.blockEpi) < p {
			d.blockEpi = append(d.blockEpi, depthwise.Epilogue{})
		}
		parallel.For(p, 1, d.fwdEpiBlocks)
		m := any(e.Means.Data).([]float32)[:c.n*C]
		inv := 1 / float32(c.oh*c.ow)
		for i := range m {
			var sum float32
			for b := range p {
				sum += d.chanSums[b*c.n*C+i]
			}
			m[i] = sum * inv
		}
	}
	d.x, d.out, d.epi = nil, nil, depthwise.Epilogue{}
	return dst, true
}

func (d *depthwise32) fwdEpiRows(lo, hi int) {
	d.shape.ForwardEpilogue(d.out, d.x, d.wt, &d.epi, lo, hi)
}

func (d *depthwise32) fwdEpiBlocksRange(lo, hi int) {
	nc := d.shape.N * d.shape.C
	for b := lo; b < hi; b++ {
		e := &d.blockEpi[b]
		*e = d.epi
		e.ChanSum = d.chanSums[b*nc : (b+1)*nc]
		d.shape.ForwardEpilogue(d.out, d.x, d.wt, e, b*d.rows/d.blocks, (b+1)*d.rows/d.blocks)
		*e = depthwise.Epilogue{}
	}
}
