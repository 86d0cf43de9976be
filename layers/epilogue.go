package layers

import (
	"fmt"
	"math"

	"github.com/effnet-go/effnet/internal/gemm"
	"github.com/effnet-go/effnet/internal/parallel"
	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/internal/vmath"
)

// Epilogue is per-output-channel work that ForwardEval applies to a
// convolution's output, in this order:
//
//	y = Act(conv(x)·Scale + Bias) + Residual
//
// and, when Means is set, Means[n, c] = the mean of y[n, ·, ·, c] over the
// positions of sample n (squeeze-excite's pooling). In inference a
// convolution, its BatchNorm (folded into Scale and Bias by
// BatchNorm2D.EvalAffine), the activation, the residual add and the
// pooling then cost one pass over memory instead of four or five.
type Epilogue[T Float] struct {
	Scale, Bias []T        // per output channel; nil means 1 or 0
	Act         Activation // Identity for none
	Residual    *Tensor[T] // nil, or a tensor of the output's shape
	Means       *Tensor[T] // nil, or [N, Out], overwritten
	// Out, when not nil, receives the output (resized to its shape) in
	// place of the layer's own tensor, so that layers whose outputs are
	// not needed at the same time can share one buffer. It must not be
	// the input or Residual.
	Out *Tensor[T]
}

// EvalAffine writes the Eval-mode normalisation as y = x·scale + bias
// (one value per channel; scale and bias must have the channel count),
// for folding into a convolution's Epilogue. The fold is computed in
// float64 from the running statistics. Like an Eval-mode Forward, it
// ends the layer's Train state: a Backward after it fails.
func (bn *BatchNorm2D[T]) EvalAffine(scale, bias []T) {
	bn.x = nil
	scale, bias = scale[:bn.channels], bias[:bn.channels]
	gamma, beta := bn.Weight.Value.Data, bn.Bias.Value.Data
	rm, rv := bn.RunningMean.Value.Data, bn.RunningVar.Value.Data
	for j := range bn.channels {
		s := float64(gamma[j]) / math.Sqrt(float64(rv[j])+bn.Eps)
		scale[j] = T(s)
		bias[j] = T(float64(beta[j]) - float64(rm[j])*s)
	}
}

// check reports an epilogue that does not fit output shape [n, oh, ow, c]
// of layer; layer is a fmt.Stringer so that its name is only formatted
// for an error.
func (e *Epilogue[T]) check(layer fmt.Stringer, n, oh, ow, c int) error {
	switch {
	case e.Scale != nil && len(e.Scale) != c:
		return fmt.Errorf("layers: %v: epilogue scale has %d values for %d channels", layer, len(e.Scale), c)
	case e.Bias != nil && len(e.Bias) != c:
		return fmt.Errorf("layers: %v: epilogue bias has %d values for %d channels", layer, len(e.Bias), c)
	case e.Act < Identity || e.Act > SiLU:
		return fmt.Errorf("layers: %v: epilogue has unknown activation %d", layer, int(e.Act))
	case e.Residual != nil && !e.Residual.HasShape(n, oh, ow, c):
		return &ShapeError{Layer: layer.String(), Want: fmt.Sprint([]int{n, oh, ow, c}), Got: e.Residual.Shape, Argument: "residual"}
	case e.Out != nil && (e.Out == e.Residual || e.Out == e.Means):
		return fmt.Errorf("layers: %v: epilogue output is also its residual or means", layer)
	case e.Means != nil && !e.Means.HasShape(n, c):
		return &ShapeError{Layer: layer.String(), Want: fmt.Sprintf("[%d %d]", n, c), Got: e.Means.Shape, Argument: "means"}
	}
	return nil
}

// ForwardEval is Forward in Eval mode followed by the epilogue e (nil
// means none). The result is the layer's output tensor, as for Forward,
// or e.Out when set.
func (c *Conv2D[T]) ForwardEval(x *Tensor[T], e *Epilogue[T]) (*Tensor[T], error) {
	// Inputs of the wrong shape go to Forward, which reports them.
	valid := x.Dims() == 4 && x.Shape[0] >= 1 && x.Shape[1] >= 1 && x.Shape[2] >= 1 && x.Shape[3] == c.cfg.In
	if e != nil && valid {
		if e.Out == x {
			return nil, fmt.Errorf("layers: %v: epilogue output is also the input", c)
		}
		oh, ow := c.OutputSize(x.Shape[1], x.Shape[2])
		if err := e.check(c, x.Shape[0], oh, ow, c.cfg.Out); err != nil {
			return nil, err
		}
	}
	// The fused paths take float32 convolutions without a bias of their
	// own and with an activation the kernels apply.
	_, f32 := any(x.Data).([]float32)
	if e != nil && valid && f32 && c.Bias == nil && (e.Act == Identity || e.Act == SiLU) {
		c.setGeometry(x)
		var y *Tensor[T]
		ok := false
		switch c.path {
		case convPathDepthwise:
			y, ok = c.forwardEvalDepthwise(x, e)
		case convPathGeneral:
			if y, ok = c.forwardEvalDirect(x, e); !ok {
				y, ok = c.forwardEvalFused(x, e)
			}
		default:
			y, ok = c.forwardEvalFused(x, e)
		}
		if ok {
			return y, nil
		}
	}
	y, err := c.Forward(x, Eval)
	if err != nil || e == nil {
		return y, err
	}
	c.startEpilogue(e, y.Data)
	if e.Means != nil {
		parallel.For(c.n, 1, c.epiSamples)
	} else {
		parallel.For(c.n*c.oh*c.ow, convGrain(4*c.cfg.Out), c.epiRows)
	}
	c.epi = epilogueRun[T]{}
	if e.Out != nil {
		e.Out.Resize(y.Shape...)
		copy(e.Out.Data, y.Data)
		return e.Out, nil
	}
	return y, nil
}

// evalOut returns the tensor a fused ForwardEval writes: e.Out or the
// layer's own, resized to the output shape.
func (c *Conv2D[T]) evalOut(e *Epilogue[T]) *Tensor[T] {
	if e.Out != nil {
		e.Out.Resize(c.n, c.oh, c.ow, c.cfg.Out)
		return e.Out
	}
	c.out = tensor.Ensure(c.out, c.n, c.oh, c.ow, c.cfg.Out)
	return c.out
}

// startEpilogue prepares c.epi for applying e to the output y of the
// last convolution (see epilogueRun).
func (c *Conv2D[T]) startEpilogue(e *Epilogue[T], y []T) {
	C := c.cfg.Out
	c.epiZero = convEnsure(c.epiZero, C)
	c.epiZero2 = convEnsure(c.epiZero2, C)
	c.epiSums = convEnsure(c.epiSums, 2*c.n*C)
	c.epi = epilogueRun[T]{e: e, y: y, c: C, hw: c.oh * c.ow, zero: c.epiZero, zero2: c.epiZero2, sums: c.epiSums}
}

// forwardEvalFused runs a convolution that is a matrix product (pointwise,
// or ungrouped through im2col) with the epilogue inside the product
// (gemm.GemmEpilogue), each block of the output finished while in cache,
// and reports whether it could. ForwardEval has checked that x is a valid
// float32 input, the layer has no bias and the activation is fusable, and
// has set the geometry.
func (c *Conv2D[T]) forwardEvalFused(x *Tensor[T], e *Epilogue[T]) (*Tensor[T], bool) {
	if c.path != convPathPointwise && (c.path != convPathGeneral || c.cfg.Groups != 1) {
		return nil, false
	}
	x32 := any(x.Data).([]float32)
	in, out, k := c.cfg.In, c.cfg.Out, c.cfg.Kernel
	dst := c.evalOut(e)
	c.x = nil
	c.colValid = false
	ge := &c.gemmEpi
	*ge = gemm.Epilogue{Scale: any(e.Scale).([]float32), Bias: any(e.Bias).([]float32)}
	if e.Act == SiLU {
		ge.Act = gemm.ActSiLU
	}
	var res []float32
	if e.Residual != nil {
		res = any(e.Residual.Data).([]float32)
	}
	y, w := any(dst.Data).([]float32), any(c.Weight.Value.Data).([]float32)
	if c.path == convPathPointwise {
		ge.Residual = res
		gemm.GemmEpilogue(false, true, c.n*c.h*c.w, out, in, x32, in, w, in, y, out, ge)
		*ge = gemm.Epilogue{}
		c.means(e.Means, dst.Data)
		return dst, true
	}
	// Each core takes a share of the output rows and runs, a few rows at
	// a time, im2col into a buffer of its own that stays in L2 and the
	// product that reads it back from there: the patches of a whole batch
	// would go to memory and back (the stem's are 13 times its input).
	K := k * k * in
	rows := c.n * c.oh
	c.ev = evalIm2col[T]{x: x.Data, y: dst.Data, ge: *ge, res: res, K: K,
		rows: rows, parts: convBlocks(rows), step: max(1, evalColLimit/(c.ow*K))}
	for len(c.evParts) < c.ev.parts {
		c.evParts = append(c.evParts, evalIm2colPart[T]{})
	}
	parallel.For(c.ev.parts, 1, c.evRows)
	c.ev = evalIm2col[T]{}
	*ge = gemm.Epilogue{}
	c.means(e.Means, dst.Data)
	return dst, true
}

// evalIm2col holds the operands of forwardEvalFused's im2col path.
type evalIm2col[T Float] struct {
	x, y              []T
	res               []float32
	ge                gemm.Epilogue
	K                 int
	rows, parts, step int // output rows N·OH, their shares, rows per chunk
}

// evalIm2colPart is one share's patch buffer and epilogue.
type evalIm2colPart[T Float] struct {
	col []T
	ge  gemm.Epilogue
}

// evalIm2colRange runs shares [lo, hi) of evalIm2col.
func (c *Conv2D[T]) evalIm2colRange(lo, hi int) {
	ev, ow, out := &c.ev, c.ow, c.cfg.Out
	w := any(c.Weight.Value.Data).([]float32)
	img := c.h * c.w * c.cfg.In
	for p := lo; p < hi; p++ {
		part := &c.evParts[p]
		part.col = convEnsure(part.col, ev.step*ow*ev.K)
		part.ge = ev.ge
		for a := p * ev.rows / ev.parts; a < (p+1)*ev.rows/ev.parts; a += ev.step {
			b := min(a+ev.step, (p+1)*ev.rows/ev.parts)
			for r := a; r < b; r++ {
				n, oy := r/c.oh, r%c.oh
				c.im2colDenseRow(part.col[(r-a)*ow*ev.K:(r-a+1)*ow*ev.K], ev.x[n*img:(n+1)*img], oy)
			}
			lo, hi := a*ow*out, b*ow*out
			if ev.res != nil {
				part.ge.Residual = ev.res[lo:hi]
			}
			gemm.GemmEpilogue(false, true, (b-a)*ow, out, ev.K, any(part.col).([]float32), ev.K, w, ev.K,
				any(ev.y[lo:hi]).([]float32), out, &part.ge)
		}
		part.ge = gemm.Epilogue{}
	}
}

// means sets m [N, Out], when not nil, to the channel means of each
// sample of the last output, y.
func (c *Conv2D[T]) means(m *Tensor[T], y []T) {
	if m == nil {
		return
	}
	c.meansEpi.Means = m
	c.startEpilogue(&c.meansEpi, y)
	parallel.For(c.n, 1, c.epiSamples)
	c.epi, c.meansEpi.Means = epilogueRun[T]{}, nil
}

// evalColLimit bounds the patch buffer of each core in forwardEvalFused,
// in elements: 256 KB, well inside L2.
const evalColLimit = 1 << 16

// epilogueRun holds the operands of one ForwardEval's epilogue pass.
type epilogueRun[T Float] struct {
	e     *Epilogue[T]
	y     []T
	c, hw int
	zero  []T       // c zeros: the mean vmath.NormRows subtracts
	zero2 []float64 // c zeros: the base vmath.CenteredSums subtracts
	sums  []float64 // per sample: c sums and c sums of squares
}

// chunk applies the epilogue to pixels [p0, p1) of y, at most a chunk of
// L1 size, so that the steps after the first find it in cache.
func (r *epilogueRun[T]) chunk(p0, p1 int) {
	e, c := r.e, r.c
	y := r.y[p0*c : p1*c]
	if y32, ok := any(y).([]float32); ok && e.Scale != nil && e.Bias != nil {
		vmath.NormRows(y32, y32, any(r.zero).([]float32), any(e.Scale).([]float32), any(e.Bias).([]float32))
	} else if e.Scale != nil || e.Bias != nil {
		for i := 0; i < len(y); i += c {
			yr := y[i : i+c]
			if e.Scale != nil {
				for j, s := range e.Scale[:c] {
					yr[j] *= s
				}
			}
			if e.Bias != nil {
				for j, b := range e.Bias[:c] {
					yr[j] += b
				}
			}
		}
	}
	if e.Act != Identity {
		actApply(e.Act, y, y)
	}
	if e.Residual != nil {
		for i, v := range e.Residual.Data[p0*c : p1*c] {
			y[i] += v
		}
	}
}

// rows applies the epilogue to pixels [lo, hi).
func (r *epilogueRun[T]) rows(lo, hi int) {
	step := bnChunkRows(r.c)
	for p0 := lo; p0 < hi; p0 += step {
		r.chunk(p0, min(p0+step, hi))
	}
}

// samples applies the epilogue to whole samples [lo, hi) and takes their
// channel means, summing in float64 each chunk while it is in cache.
func (r *epilogueRun[T]) samples(lo, hi int) {
	c, hw := r.c, r.hw
	step := bnChunkRows(c)
	for n := lo; n < hi; n++ {
		s1, s2 := r.sums[2*n*c:(2*n+1)*c], r.sums[(2*n+1)*c:(2*n+2)*c]
		clear(s1)
		clear(s2)
		for p0 := n * hw; p0 < (n+1)*hw; p0 += step {
			p1 := min(p0+step, (n+1)*hw)
			r.chunk(p0, p1)
			y := r.y[p0*c : p1*c]
			if y32, ok := any(y).([]float32); ok {
				vmath.CenteredSums(s1, s2, y32, r.zero2)
				continue
			}
			for i, v := range y {
				s1[i%c] += float64(v)
			}
		}
		m := r.e.Means.Data[n*c : (n+1)*c]
		for j, v := range s1 {
			m[j] = T(v / float64(hw))
		}
	}
}
