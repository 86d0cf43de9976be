package layers

import (
	"fmt"
	"math/rand/v2"

	"github.com/effnet-go/effnet/internal/parallel"
	"github.com/effnet-go/effnet/internal/tensor"
)

// dropCheck panics on a drop probability outside [0, 1] or a missing
// random source; both are mistakes in the code building the network.
func dropCheck(layer string, p float64, rng *rand.Rand) {
	if !(p >= 0 && p <= 1) {
		panic(fmt.Sprintf("layers: %s probability %v outside [0, 1]", layer, p))
	}
	if rng == nil && p > 0 {
		panic(fmt.Sprintf("layers: %s with p = %v needs a random source", layer, p))
	}
}

// dropScale is the factor applied to kept values, 1/(1-p), which keeps the
// expected output equal to the input ("inverted" dropout, so that Eval
// needs no rescaling). For p = 1 nothing is kept and the factor is unused.
func dropScale(p float64) float64 {
	if p >= 1 {
		return 0
	}
	return 1 / (1 - p)
}

// Dropout zeroes each element independently with probability P in Train
// mode and scales the others by 1/(1-P); in Eval mode it copies its input.
// EfficientNet applies it to the pooled features before the classifier.
type Dropout[T Float] struct {
	P float64

	rng   *rand.Rand
	ready bool
	// mask holds 0 or 1/(1-P) per element from the last Train Forward.
	mask, y, dx *Tensor[T]
}

// NewDropout returns a Dropout layer drawing its masks from rng, which it
// uses without locking (give each goroutine's network its own). It panics
// if p is outside [0, 1] or rng is nil while p > 0.
func NewDropout[T Float](p float64, rng *rand.Rand) *Dropout[T] {
	dropCheck("Dropout", p, rng)
	return &Dropout[T]{P: p, rng: rng}
}

func (d *Dropout[T]) String() string { return fmt.Sprintf("Dropout(p=%g)", d.P) }

func (d *Dropout[T]) Params() []*Param[T] { return nil }

func (d *Dropout[T]) Forward(x *Tensor[T], mode Mode) (*Tensor[T], error) {
	d.y = tensor.Ensure(d.y, x.Shape...)
	d.ready = mode == Train
	if !d.ready {
		copy(d.y.Data, x.Data)
		return d.y, nil
	}
	// One stream of random numbers fixes the mask whatever GOMAXPROCS is;
	// Dropout acts on [N, features] vectors, too small to need threads.
	d.mask = tensor.Ensure(d.mask, x.Shape...)
	scale := T(dropScale(d.P))
	for i, v := range x.Data {
		m := scale
		if d.P > 0 && d.rng.Float64() < d.P {
			m = 0
		}
		d.mask.Data[i] = m
		d.y.Data[i] = v * m
	}
	return d.y, nil
}

func (d *Dropout[T]) Backward(dy *Tensor[T]) (*Tensor[T], error) {
	if !d.ready {
		return nil, backwardWithoutTrainForward(d.String())
	}
	if !dy.HasShape(d.mask.Shape...) {
		return nil, gradShapeError(d.String(), d.mask.Shape, dy.Shape)
	}
	d.dx = tensor.Ensure(d.dx, dy.Shape...)
	for i, m := range d.mask.Data {
		d.dx.Data[i] = dy.Data[i] * m
	}
	return d.dx, nil
}

// DropPath is stochastic depth: in Train mode it keeps each sample of the
// batch (the first dimension) whole with probability 1-P, scaled by
// 1/(1-P), and zeroes it otherwise. Placed on the residual branch of a
// block, it drops the block for that sample. In Eval mode, or with P = 0,
// it copies its input.
type DropPath[T Float] struct {
	P float64

	rng   *rand.Rand
	ready bool
	per   int // elements per sample
	// keep holds 0 or 1/(1-P) per sample from the last Train Forward.
	keep         []T
	shape        []int
	src, dst     []T
	y, dx        *Tensor[T]
	scaleSamples func(lo, hi int)
}

// NewDropPath returns a DropPath layer drawing from rng, which it uses
// without locking. It panics if p is outside [0, 1] or rng is nil while
// p > 0.
func NewDropPath[T Float](p float64, rng *rand.Rand) *DropPath[T] {
	dropCheck("DropPath", p, rng)
	d := &DropPath[T]{P: p, rng: rng}
	d.scaleSamples = d.scaleRange
	return d
}

func (d *DropPath[T]) String() string { return fmt.Sprintf("DropPath(p=%g)", d.P) }

func (d *DropPath[T]) Params() []*Param[T] { return nil }

// Keep returns the per-sample factors of the last Train Forward: 0 for a
// dropped sample, 1/(1-P) for a kept one. The slice is reused by the next
// Forward.
func (d *DropPath[T]) Keep() []T { return d.keep }

func (d *DropPath[T]) Forward(x *Tensor[T], mode Mode) (*Tensor[T], error) {
	d.y = tensor.Ensure(d.y, x.Shape...)
	d.ready = mode == Train
	if !d.ready || d.P == 0 || x.Dims() == 0 {
		d.keep = d.keep[:0]
		copy(d.y.Data, x.Data)
		d.shape = append(d.shape[:0], x.Shape...)
		return d.y, nil
	}
	n := x.Shape[0]
	d.per = 0
	if n > 0 {
		d.per = x.Len() / n
	}
	d.shape = append(d.shape[:0], x.Shape...)
	scale := T(dropScale(d.P))
	d.keep = d.keep[:0]
	for range n {
		k := scale
		if d.rng.Float64() < d.P {
			k = 0
		}
		d.keep = append(d.keep, k)
	}
	d.src, d.dst = x.Data, d.y.Data
	parallel.For(x.Len(), ewGrain, d.scaleSamples)
	d.src, d.dst = nil, nil
	return d.y, nil
}

func (d *DropPath[T]) Backward(dy *Tensor[T]) (*Tensor[T], error) {
	if !d.ready {
		return nil, backwardWithoutTrainForward(d.String())
	}
	if !dy.HasShape(d.shape...) {
		return nil, gradShapeError(d.String(), d.shape, dy.Shape)
	}
	d.dx = tensor.Ensure(d.dx, d.shape...)
	if len(d.keep) == 0 { // P = 0 or a scalar input: the identity
		copy(d.dx.Data, dy.Data)
		return d.dx, nil
	}
	d.src, d.dst = dy.Data, d.dx.Data
	parallel.For(dy.Len(), ewGrain, d.scaleSamples)
	d.src, d.dst = nil, nil
	return d.dx, nil
}

// scaleRange sets dst = src·keep[sample] over elements [lo, hi), a range
// that may start and end inside a sample.
func (d *DropPath[T]) scaleRange(lo, hi int) {
	for i := lo; i < hi; {
		b := i / d.per
		end := min(hi, (b+1)*d.per)
		k := d.keep[b]
		if k == 0 {
			// Writing zeros rather than src·0 keeps a dropped sample's
			// output 0 even where it holds Inf or NaN, like skipping it.
			clear(d.dst[i:end])
		} else {
			for j, v := range d.src[i:end] {
				d.dst[i+j] = v * k
			}
		}
		i = end
	}
}
