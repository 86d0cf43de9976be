package layers

import (
	"fmt"
	"math"

	"github.com/effnet-go/effnet/internal/parallel"
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
	case e.Means != nil && !e.Means.HasShape(n, c):
		return &ShapeError{Layer: layer.String(), Want: fmt.Sprintf("[%d %d]", n, c), Got: e.Means.Shape, Argument: "means"}
	}
	return nil
}

// ForwardEval is Forward in Eval mode followed by the epilogue e (nil
// means none). The result is the layer's output tensor, as for Forward.
func (c *Conv2D[T]) ForwardEval(x *Tensor[T], e *Epilogue[T]) (*Tensor[T], error) {
	if e != nil && x.Dims() == 4 { // Forward reports other shapes
		oh, ow := c.OutputSize(x.Shape[1], x.Shape[2])
		if err := e.check(c, x.Shape[0], oh, ow, c.cfg.Out); err != nil {
			return nil, err
		}
	}
	y, err := c.Forward(x, Eval)
	if err != nil || e == nil {
		return y, err
	}
	c.epi = epilogueRun[T]{e: e, y: y.Data, c: c.cfg.Out, hw: c.oh * c.ow}
	if e.Means != nil {
		parallel.For(c.n, 1, c.epiSamples)
	} else {
		parallel.For(c.n*c.oh*c.ow, convGrain(4*c.cfg.Out), c.epiRows)
	}
	c.epi = epilogueRun[T]{}
	return y, nil
}

// epilogueRun holds the operands of one ForwardEval's epilogue pass.
type epilogueRun[T Float] struct {
	e     *Epilogue[T]
	y     []T
	c, hw int
}

// rows applies the epilogue to pixels [lo, hi) of y, in chunks that stay
// in L1 between the steps.
func (r *epilogueRun[T]) rows(lo, hi int) {
	e, c := r.e, r.c
	step := bnChunkRows(c)
	for p0 := lo; p0 < hi; p0 += step {
		p1 := min(p0+step, hi)
		y := r.y[p0*c : p1*c]
		if e.Scale != nil || e.Bias != nil {
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
}

// samples applies the epilogue to whole samples [lo, hi) and takes their
// channel means.
func (r *epilogueRun[T]) samples(lo, hi int) {
	c, hw := r.c, r.hw
	inv := 1 / T(hw)
	for n := lo; n < hi; n++ {
		r.rows(n*hw, (n+1)*hw)
		m := r.e.Means.Data[n*c : (n+1)*c]
		clear(m)
		for p := n * hw; p < (n+1)*hw; p++ {
			for j, v := range r.y[p*c : (p+1)*c] {
				m[j] += v
			}
		}
		for j := range m {
			m[j] *= inv
		}
	}
}
