package layers

import (
	"fmt"

	"github.com/effnet-go/effnet/internal/gemm"
	"github.com/effnet-go/effnet/internal/tensor"
)

// Linear is a fully connected layer y = x·Wᵀ + b, the classifier head of
// EfficientNet and the two 1×1 convolutions of squeeze-and-excitation.
//
// The input is [N, In]; [N, 1, 1, In], a globally pooled NHWC map, is
// accepted too and read as [N, In]. The output is [N, Out] in both cases
// and the input gradient has the input's shape.
type Linear[T Float] struct {
	In, Out int
	// Weight is [Out, In], PyTorch's nn.Linear layout; a 1×1 convolution's
	// [Out, In, 1, 1] weight is the same numbers.
	Weight *Param[T]
	// Bias is [Out], or nil for a layer made without bias.
	Bias *Param[T]

	x, y, dx *Tensor[T]
	ready    bool
}

// NewLinear returns a Linear layer mapping in features to out features.
// Its weight and bias start at zero; initialise them before training. It
// panics if in or out is not positive.
func NewLinear[T Float](in, out int, bias bool) *Linear[T] {
	if in <= 0 || out <= 0 {
		panic(fmt.Sprintf("layers: NewLinear(%d, %d): sizes must be positive", in, out))
	}
	l := &Linear[T]{In: in, Out: out, Weight: newParam[T]("weight", out, in)}
	if bias {
		l.Bias = newParam[T]("bias", out)
	}
	return l
}

func (l *Linear[T]) String() string { return fmt.Sprintf("Linear(%d→%d)", l.In, l.Out) }

// Params returns the weight, then the bias if there is one.
func (l *Linear[T]) Params() []*Param[T] {
	if l.Bias == nil {
		return []*Param[T]{l.Weight}
	}
	return []*Param[T]{l.Weight, l.Bias}
}

func (l *Linear[T]) inputOK(x *Tensor[T]) bool {
	switch x.Dims() {
	case 2:
		return x.Shape[1] == l.In
	case 4:
		return x.Shape[1] == 1 && x.Shape[2] == 1 && x.Shape[3] == l.In
	}
	return false
}

func (l *Linear[T]) Forward(x *Tensor[T], mode Mode) (*Tensor[T], error) {
	if !l.inputOK(x) {
		return nil, &ShapeError{Layer: l.String(), Want: fmt.Sprintf("[N %d] or [N 1 1 %d]", l.In, l.In),
			Got: append([]int(nil), x.Shape...), Argument: "input"}
	}
	n := x.Shape[0]
	l.y = tensor.Ensure(l.y, n, l.Out)
	gemm.Gemm(false, true, n, l.Out, l.In, 1, x.Data, l.In, l.Weight.Value.Data, l.In, 0, l.y.Data, l.Out)
	if l.Bias != nil {
		b := l.Bias.Value.Data
		for i := range n {
			row := l.y.Data[i*l.Out : (i+1)*l.Out]
			for j := range row {
				row[j] += b[j]
			}
		}
	}
	l.ready = mode == Train
	l.x = nil
	if l.ready {
		l.x = x
	}
	return l.y, nil
}

func (l *Linear[T]) Backward(dy *Tensor[T]) (*Tensor[T], error) {
	if !l.ready {
		return nil, backwardWithoutTrainForward(l.String())
	}
	n := l.x.Shape[0]
	if !dy.HasShape(n, l.Out) {
		return nil, gradShapeError(l.String(), l.y.Shape, dy.Shape)
	}
	// dW += dyᵀ·x, db += Σ_rows dy, dx = dy·W.
	gemm.Gemm(true, false, l.Out, l.In, n, 1, dy.Data, l.Out, l.x.Data, l.In, 1, l.Weight.Grad.Data, l.In)
	if l.Bias != nil {
		g := l.Bias.Grad.Data
		for i := range n {
			for j, v := range dy.Data[i*l.Out : (i+1)*l.Out] {
				g[j] += v
			}
		}
	}
	l.dx = tensor.Ensure(l.dx, l.x.Shape...)
	gemm.Gemm(false, false, n, l.In, l.Out, 1, dy.Data, l.Out, l.Weight.Value.Data, l.In, 0, l.dx.Data, l.In)
	return l.dx, nil
}
