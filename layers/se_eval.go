package layers

import (
	"fmt"

	"github.com/effnet-go/effnet/internal/parallel"
)

// ScaleEval is an Eval-mode Forward for a caller that already has the
// channel means of x, such as the depthwise convolution before it with
// Epilogue.Means: it computes the gate from means [N, C] and rescales x in
// place, returning x. Working in place saves an activation-sized tensor
// and its memory pass; x must be scratch the caller does not need again.
func (s *SqueezeExcite[T]) ScaleEval(x, means *Tensor[T]) (*Tensor[T], error) {
	s.ready = false
	if x.Dims() != 4 || x.Shape[3] != s.Channels || x.Shape[1]*x.Shape[2] == 0 {
		return nil, &ShapeError{Layer: s.String(), Want: fmt.Sprintf("[N H W %d] with H·W > 0", s.Channels),
			Got: append([]int(nil), x.Shape...), Argument: "input"}
	}
	if !means.HasShape(x.Shape[0], s.Channels) {
		return nil, &ShapeError{Layer: s.String(), Want: fmt.Sprintf("[%d %d]", x.Shape[0], s.Channels),
			Got: append([]int(nil), means.Shape...), Argument: "means"}
	}
	if err := s.setGate(means, Eval); err != nil {
		return nil, err
	}
	s.hw = x.Shape[1] * x.Shape[2]
	own := s.y
	s.x, s.y = x, x
	parallel.For(x.Shape[0]*s.hw, max(1, ewGrain/s.Channels), s.scale)
	s.x, s.y = nil, own
	return x, nil
}
