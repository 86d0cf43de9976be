package layers

import (
	"fmt"

	"github.com/effnet-go/effnet/internal/tensor"
)

// Float is the element type: float32 for speed, float64 for checks.
type Float = tensor.Float

// Tensor is the dense NHWC storage every layer reads and writes. See
// NewTensor and the layout notes in the package documentation.
type Tensor[T Float] = tensor.Tensor[T]

// NewTensor returns a zeroed tensor of the given shape.
func NewTensor[T Float](shape ...int) *Tensor[T] { return tensor.New[T](shape...) }

// Mode selects training or inference behaviour. BatchNorm uses batch
// statistics and updates its running averages in Train mode; Dropout and
// DropPath are active only in Train mode.
type Mode int

const (
	Eval Mode = iota
	Train
)

func (m Mode) String() string {
	if m == Train {
		return "train"
	}
	return "eval"
}

// Param is a learnable tensor and the gradient that Backward accumulates
// into it. Name is local to the layer ("weight", "bias"); models prefix it
// with the layer's path.
type Param[T Float] struct {
	Name  string
	Value *Tensor[T]
	Grad  *Tensor[T]
}

func newParam[T Float](name string, shape ...int) *Param[T] {
	return &Param[T]{Name: name, Value: tensor.New[T](shape...), Grad: tensor.New[T](shape...)}
}

// Buffer is non-learnable state saved with a model, such as BatchNorm's
// running mean and variance.
type Buffer[T Float] struct {
	Name  string
	Value *Tensor[T]
}

// Layer is one differentiable step of a network.
//
// Forward returns an output tensor owned by the layer and reused by the next
// call, so steady-state training allocates nothing; copy it to keep it.
// Backward takes the gradient of the loss with respect to the last Forward's
// output and returns the gradient with respect to its input (also owned by
// the layer), adding parameter gradients into each Param's Grad. Backward is
// only valid after a Forward in Train mode.
type Layer[T Float] interface {
	Forward(x *Tensor[T], mode Mode) (*Tensor[T], error)
	Backward(dy *Tensor[T]) (*Tensor[T], error)
	Params() []*Param[T]
}

// ShapeError reports a tensor of the wrong shape handed to a layer.
type ShapeError struct {
	Layer    string // the layer, e.g. "Conv2D(16→24, k1, s1)"
	Want     string // the expected shape, e.g. "[N H W 16]"
	Got      []int
	Argument string // "input" or "gradient"
}

func (e *ShapeError) Error() string {
	return fmt.Sprintf("%s: %s has shape %v, want %s", e.Layer, e.Argument, e.Got, e.Want)
}
