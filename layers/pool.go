package layers

import (
	"github.com/effnet-go/effnet/internal/chanops"
	"github.com/effnet-go/effnet/internal/parallel"
	"github.com/effnet-go/effnet/internal/tensor"
)

// GlobalAvgPool averages each channel over all spatial positions, turning
// an NHWC map [N, H, W, C] into features [N, C].
//
// The output is 2-d, not [N, 1, 1, C] as PyTorch's AdaptiveAvgPool2d(1)
// gives, because everything after it (Dropout, Linear, the excitation of
// squeeze-and-excitation) works on feature vectors; the two layouts hold
// the same numbers in the same order.
type GlobalAvgPool[T Float] struct {
	n, h, w, c int
	ready      bool

	x, y, dx, dy *Tensor[T]
	fwd, bwd     func(lo, hi int)
}

// NewGlobalAvgPool returns a global average pooling layer.
func NewGlobalAvgPool[T Float]() *GlobalAvgPool[T] {
	p := &GlobalAvgPool[T]{}
	p.fwd = p.forwardRange
	p.bwd = p.backwardRange
	return p
}

func (p *GlobalAvgPool[T]) String() string { return "GlobalAvgPool" }

func (p *GlobalAvgPool[T]) Params() []*Param[T] { return nil }

func (p *GlobalAvgPool[T]) Forward(x *Tensor[T], mode Mode) (*Tensor[T], error) {
	if x.Dims() != 4 || x.Shape[1]*x.Shape[2] == 0 {
		return nil, &ShapeError{Layer: p.String(), Want: "[N H W C] with H·W > 0",
			Got: append([]int(nil), x.Shape...), Argument: "input"}
	}
	p.n, p.h, p.w, p.c = x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	p.x = x
	p.y = tensor.Ensure(p.y, p.n, p.c)
	parallel.For(p.n, max(1, ewGrain/max(1, x.Len()/max(1, p.n))), p.fwd)
	p.x = nil // only the shape is needed by Backward
	p.ready = mode == Train
	return p.y, nil
}

// forwardRange averages samples [lo, hi). float32 sums on the vector
// kernels of package chanops; float64, the reference, adds rows of C
// channels in turn.
func (p *GlobalAvgPool[T]) forwardRange(lo, hi int) {
	if p32, ok := any(p).(*GlobalAvgPool[float32]); ok {
		poolForward32(p32, lo, hi)
		return
	}
	hw, c := p.h*p.w, p.c
	inv := 1 / T(hw)
	for b := lo; b < hi; b++ {
		y := p.y.Data[b*c : (b+1)*c]
		clear(y)
		x := p.x.Data[b*hw*c : (b+1)*hw*c]
		for i := 0; i < len(x); i += c {
			for j, v := range x[i : i+c] {
				y[j] += v
			}
		}
		for j := range y {
			y[j] *= inv
		}
	}
}

func poolForward32(p *GlobalAvgPool[float32], lo, hi int) {
	hw, c := p.h*p.w, p.c
	inv := 1 / float32(hw)
	for b := lo; b < hi; b++ {
		y := p.y.Data[b*c : (b+1)*c]
		clear(y)
		chanops.ColSums(y, p.x.Data[b*hw*c:(b+1)*hw*c])
		for j := range y {
			y[j] *= inv
		}
	}
}

func (p *GlobalAvgPool[T]) Backward(dy *Tensor[T]) (*Tensor[T], error) {
	if !p.ready {
		return nil, backwardWithoutTrainForward(p.String())
	}
	if !dy.HasShape(p.n, p.c) {
		return nil, gradShapeError(p.String(), []int{p.n, p.c}, dy.Shape)
	}
	p.dy = dy
	p.dx = tensor.Ensure(p.dx, p.n, p.h, p.w, p.c)
	rows := p.n * p.h * p.w
	parallel.For(rows, max(1, ewGrain/max(1, p.c)), p.bwd)
	p.dy = nil
	return p.dx, nil
}

// backwardRange spreads dy/(H·W) over spatial rows [lo, hi) of the input.
// Every row of a sample is the same, so the first is computed and the
// rest are copies, which the runtime's memmove does in vectors.
func (p *GlobalAvgPool[T]) backwardRange(lo, hi int) {
	hw, c := p.h*p.w, p.c
	inv := 1 / T(hw)
	for r := lo; r < hi; {
		b := r / hw
		end := min(hi, (b+1)*hw)
		first := p.dx.Data[r*c : (r+1)*c]
		for j, v := range p.dy.Data[b*c : (b+1)*c] {
			first[j] = v * inv
		}
		for q := r + 1; q < end; q++ {
			copy(p.dx.Data[q*c:(q+1)*c], first)
		}
		r = end
	}
}
