package layers

import "fmt"

// Sequential chains layers: Forward runs them in order, Backward in
// reverse. It is itself a Layer, so chains nest.
type Sequential[T Float] struct {
	Layers []Layer[T]
}

// NewSequential returns the chain of the given layers.
func NewSequential[T Float](layers ...Layer[T]) *Sequential[T] {
	return &Sequential[T]{Layers: layers}
}

// Forward returns the last layer's output. An error names the position of
// the failing layer and wraps its error, so errors.As still finds a
// *ShapeError.
func (s *Sequential[T]) Forward(x *Tensor[T], mode Mode) (*Tensor[T], error) {
	for i, l := range s.Layers {
		var err error
		if x, err = l.Forward(x, mode); err != nil {
			return nil, fmt.Errorf("Sequential layer %d: %w", i, err)
		}
	}
	return x, nil
}

// Backward returns the first layer's input gradient.
func (s *Sequential[T]) Backward(dy *Tensor[T]) (*Tensor[T], error) {
	for i := len(s.Layers) - 1; i >= 0; i-- {
		var err error
		if dy, err = s.Layers[i].Backward(dy); err != nil {
			return nil, fmt.Errorf("Sequential layer %d: %w", i, err)
		}
	}
	return dy, nil
}

// Params returns the layers' own parameters in order, unrenamed (the same
// *Param values the layers hold, so optimiser state keyed by them stays
// valid); a caller that needs unique names prefixes them with the layer's
// index.
func (s *Sequential[T]) Params() []*Param[T] {
	var ps []*Param[T]
	for _, l := range s.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}
