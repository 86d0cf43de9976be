package layers

import (
	"fmt"
	"math"

	"github.com/effnet-go/effnet/internal/parallel"
	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/internal/vmath"
)

// ewGrain is the smallest number of elements an elementwise loop hands to
// one goroutine: below about 16k cheap operations the cost of starting a
// goroutine (~1µs) outweighs the work.
const ewGrain = 1 << 14

// backwardWithoutTrainForward is the error of a Backward that has no Train
// mode Forward to differentiate: the saved state is missing or belongs to
// an Eval pass, and silently using it would give wrong gradients.
func backwardWithoutTrainForward(layer string) error {
	return fmt.Errorf("%s: Backward called without a preceding Forward in Train mode", layer)
}

// gradShapeError reports an upstream gradient whose shape differs from the
// output of the last Forward.
func gradShapeError(layer string, want, got []int) error {
	return &ShapeError{Layer: layer, Want: fmt.Sprint(want), Got: append([]int(nil), got...), Argument: "gradient"}
}

// Activation selects an elementwise nonlinearity.
type Activation int

const (
	Identity Activation = iota // x
	ReLU                       // max(x, 0)
	ReLU6                      // min(max(x, 0), 6), MobileNet's clipped ReLU
	Sigmoid                    // 1 / (1 + e^-x)
	SiLU                       // x·sigmoid(x), also called swish; EfficientNet's activation
)

func (a Activation) String() string {
	switch a {
	case Identity:
		return "Identity"
	case ReLU:
		return "ReLU"
	case ReLU6:
		return "ReLU6"
	case Sigmoid:
		return "Sigmoid"
	case SiLU:
		return "SiLU"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// NewActivation returns a layer without parameters that applies kind to
// every element of an input of any shape; the output has the input's
// shape. It panics if kind is not one of the Activation constants.
//
// Backward reads the input tensor given to the last Forward, so that tensor
// must not change in between (layers only rewrite their outputs on their
// own next Forward, so chaining layers is safe).
func NewActivation[T Float](kind Activation) *ActivationLayer[T] {
	if kind < Identity || kind > SiLU {
		panic(fmt.Sprintf("layers: unknown activation %d", int(kind)))
	}
	a := &ActivationLayer[T]{kind: kind}
	a.fwd = a.forwardRange
	a.bwd = a.backwardRange
	return a
}

// ActivationLayer is the layer NewActivation returns. Its loop bodies are
// method values made once in NewActivation, so that handing them to
// parallel.For does not allocate a closure per call.
type ActivationLayer[T Float] struct {
	// GradInPlace makes Backward write the input gradient over dy and
	// return dy itself rather than a tensor of the layer's own, saving
	// one activation-sized buffer in training. Set it only when dy is
	// scratch that nothing reads after this Backward, such as the input
	// gradient of the layer that follows; mbconv and effnet set it on
	// every activation of the network.
	GradInPlace bool

	kind  Activation
	train bool
	ready bool

	x, y, dx, dy *Tensor[T]
	dxOut        *Tensor[T] // where the running Backward writes: dx or dy
	// s holds sigmoid(x) from a Train Forward of Sigmoid. SiLU keeps none:
	// its Backward evaluates the exponential again, which costs less than
	// writing and reading back an activation-sized tensor, and saves its
	// memory.
	s *Tensor[T]

	fwd, bwd func(lo, hi int)
}

func (a *ActivationLayer[T]) String() string { return a.kind.String() }

// Params returns nil: activations have no parameters.
func (a *ActivationLayer[T]) Params() []*Param[T] { return nil }

// Forward applies the activation to every element of x and returns a
// tensor owned by the layer, overwritten by the next Forward.
func (a *ActivationLayer[T]) Forward(x *Tensor[T], mode Mode) (*Tensor[T], error) {
	a.x, a.train = x, mode == Train
	a.y = tensor.Ensure(a.y, x.Shape...)
	if a.train && a.kind == Sigmoid {
		a.s = tensor.Ensure(a.s, x.Shape...)
	}
	parallel.For(x.Len(), ewGrain, a.fwd)
	a.ready = a.train
	if !a.train {
		a.x = nil // Eval keeps no reference to the caller's tensor
	}
	return a.y, nil
}

// Backward returns the input gradient for the last Train-mode Forward:
// the layer's own tensor, or dy overwritten when GradInPlace is set.
func (a *ActivationLayer[T]) Backward(dy *Tensor[T]) (*Tensor[T], error) {
	if !a.ready {
		return nil, backwardWithoutTrainForward(a.String())
	}
	if !dy.HasShape(a.x.Shape...) {
		return nil, gradShapeError(a.String(), a.x.Shape, dy.Shape)
	}
	a.dy = dy
	dx := dy
	if !a.GradInPlace {
		a.dx = tensor.Ensure(a.dx, a.x.Shape...)
		dx = a.dx
	}
	// Each element of dx depends on the same element of dy only, so the
	// loops are safe with dx and dy the same memory.
	a.dxOut = dx
	parallel.For(dy.Len(), ewGrain, a.bwd)
	a.dy, a.dxOut = nil, nil
	return dx, nil
}

// actSigmoid is the logistic function evaluated in float64. The form
// 1/(1+e^-v) cannot produce NaN for finite v: e^-v overflows to +Inf for
// v < -709 and the quotient is then the correct limit 0.
func actSigmoid[T Float](v T) T {
	return T(1 / (1 + math.Exp(-float64(v))))
}

func (a *ActivationLayer[T]) forwardRange(lo, hi int) {
	x, y := a.x.Data[lo:hi], a.y.Data[lo:hi]
	actApply(a.kind, y, x)
	if a.train && a.kind == Sigmoid {
		copy(a.s.Data[lo:hi], y)
	}
}

func (a *ActivationLayer[T]) backwardRange(lo, hi int) {
	x, dy, dx := a.x.Data[lo:hi], a.dy.Data[lo:hi], a.dxOut.Data[lo:hi]
	if a.kind == Sigmoid {
		s := a.s.Data[lo:hi]
		if s32, ok := any(s).([]float32); ok {
			vmath.SigmoidGrad(any(dx).([]float32), any(dy).([]float32), s32)
			return
		}
		for i, g := range s {
			dx[i] = dy[i] * g * (1 - g)
		}
		return
	}
	actGrad(a.kind, dx, dy, x)
}

// actApply sets dst = kind(x) elementwise; dst may be x.
func actApply[T Float](kind Activation, dst, x []T) {
	dst = dst[:len(x)]
	if x32, ok := any(x).([]float32); ok && (kind == Sigmoid || kind == SiLU) {
		// float32 takes the vector exponential of package vmath (2.3 ulp
		// for sigmoid, 2.7 for SiLU); float64 stays on math.Exp for checks.
		d32 := any(dst).([]float32)
		if kind == SiLU {
			vmath.SiLU(d32, nil, x32)
		} else {
			vmath.Sigmoid(d32, x32)
		}
		return
	}
	switch kind {
	case Identity:
		copy(dst, x)
	case ReLU:
		for i, v := range x {
			if v < 0 { // written so that NaN propagates, as in PyTorch
				v = 0
			}
			dst[i] = v
		}
	case ReLU6:
		for i, v := range x {
			if v < 0 {
				v = 0
			} else if v > 6 {
				v = 6
			}
			dst[i] = v
		}
	case Sigmoid:
		for i, v := range x {
			dst[i] = actSigmoid(v)
		}
	case SiLU:
		for i, v := range x {
			dst[i] = v * actSigmoid(v)
		}
	}
}

// actGrad sets dx = dy·kind'(x) elementwise, evaluating the derivative from
// the activation's input x (the exponential is computed again rather than
// stored: that costs less than writing and reading an activation-sized
// tensor). dx may be dy.
func actGrad[T Float](kind Activation, dx, dy, x []T) {
	dx, dy = dx[:len(x)], dy[:len(x)]
	if x32, ok := any(x).([]float32); ok && kind == SiLU {
		vmath.SiLUGrad(any(dx).([]float32), any(dy).([]float32), x32, nil)
		return
	}
	switch kind {
	case Identity:
		copy(dx, dy)
	case ReLU:
		// The derivative at 0 is taken as 0, matching PyTorch.
		for i, v := range x {
			if v > 0 {
				dx[i] = dy[i]
			} else {
				dx[i] = 0
			}
		}
	case ReLU6:
		for i, v := range x {
			if v > 0 && v < 6 {
				dx[i] = dy[i]
			} else {
				dx[i] = 0
			}
		}
	case Sigmoid:
		for i, v := range x {
			g := actSigmoid(v)
			dx[i] = dy[i] * g * (1 - g)
		}
	case SiLU:
		// d/dx x·σ(x) = σ + x·σ·(1-σ) = σ·(1 + x·(1-σ)).
		for i, v := range x {
			g := actSigmoid(v)
			dx[i] = dy[i] * g * (1 + v*(1-g))
		}
	}
}
