package tensor

import (
	"fmt"

	"golang.org/x/exp/constraints"
)

// Float is the element type of a tensor: float32 for production, float64
// for gradient checks and comparisons with reference tensors.
type Float interface {
	constraints.Float
}

// Tensor is a dense row-major array. Data has exactly Numel(Shape) elements.
type Tensor[T Float] struct {
	Shape []int
	Data  []T
}

// New returns a zeroed tensor of the given shape.
func New[T Float](shape ...int) *Tensor[T] {
	return &Tensor[T]{Shape: append([]int(nil), shape...), Data: make([]T, Numel(shape))}
}

// FromData wraps data in a tensor of the given shape. It returns an error if
// the number of elements does not match the shape.
func FromData[T Float](data []T, shape ...int) (*Tensor[T], error) {
	if n := Numel(shape); n != len(data) {
		return nil, fmt.Errorf("tensor: shape %v needs %d elements, got %d", shape, n, len(data))
	}
	return &Tensor[T]{Shape: append([]int(nil), shape...), Data: data}, nil
}

// Numel is the number of elements of a shape.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Len is the number of elements of t.
func (t *Tensor[T]) Len() int { return len(t.Data) }

// Dims returns the number of dimensions of t.
func (t *Tensor[T]) Dims() int { return len(t.Shape) }

// HasShape reports whether t has exactly the given shape.
func (t *Tensor[T]) HasShape(shape ...int) bool {
	if len(t.Shape) != len(shape) {
		return false
	}
	for i, d := range shape {
		if t.Shape[i] != d {
			return false
		}
	}
	return true
}

// Resize gives t the new shape, reusing its storage when it is large enough,
// so that buffers kept across training steps are not reallocated. The
// contents after a resize are unspecified; callers overwrite or Zero them.
func (t *Tensor[T]) Resize(shape ...int) {
	n := Numel(shape)
	if cap(t.Data) >= n {
		t.Data = t.Data[:n]
	} else {
		t.Data = make([]T, n)
	}
	if !t.HasShape(shape...) {
		t.Shape = append(t.Shape[:0], shape...)
	}
}

// Ensure returns t resized to shape, allocating t if it is nil. Layers call
// it to keep one output buffer each across calls.
func Ensure[T Float](t *Tensor[T], shape ...int) *Tensor[T] {
	if t == nil {
		return New[T](shape...)
	}
	t.Resize(shape...)
	return t
}

// Zero sets every element of t to 0.
func (t *Tensor[T]) Zero() { clear(t.Data) }

// Clone returns a deep copy of t.
func (t *Tensor[T]) Clone() *Tensor[T] {
	return &Tensor[T]{Shape: append([]int(nil), t.Shape...), Data: append([]T(nil), t.Data...)}
}

// CopyFrom copies src into t, which must have the same number of elements.
func (t *Tensor[T]) CopyFrom(src *Tensor[T]) {
	if len(t.Data) != len(src.Data) {
		panic(fmt.Sprintf("tensor: CopyFrom of %v into %v", src.Shape, t.Shape))
	}
	copy(t.Data, src.Data)
}

// String describes the shape, not the contents.
func (t *Tensor[T]) String() string { return fmt.Sprintf("Tensor%v", t.Shape) }

// Convert returns a copy of src with elements converted to type U.
func Convert[U, T Float](src *Tensor[T]) *Tensor[U] {
	out := New[U](src.Shape...)
	for i, v := range src.Data {
		out.Data[i] = U(v)
	}
	return out
}

// NCHWToNHWC returns a copy of a 4-d NCHW tensor in NHWC order.
func NCHWToNHWC[T Float](src *Tensor[T]) *Tensor[T] {
	n, c, h, w := src.Shape[0], src.Shape[1], src.Shape[2], src.Shape[3]
	out := New[T](n, h, w, c)
	for b := 0; b < n; b++ {
		for ch := 0; ch < c; ch++ {
			s := src.Data[(b*c+ch)*h*w:]
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					out.Data[((b*h+y)*w+x)*c+ch] = s[y*w+x]
				}
			}
		}
	}
	return out
}

// NHWCToNCHW returns a copy of a 4-d NHWC tensor in NCHW order.
func NHWCToNCHW[T Float](src *Tensor[T]) *Tensor[T] {
	n, h, w, c := src.Shape[0], src.Shape[1], src.Shape[2], src.Shape[3]
	out := New[T](n, c, h, w)
	for b := 0; b < n; b++ {
		for ch := 0; ch < c; ch++ {
			d := out.Data[(b*c+ch)*h*w:]
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					d[y*w+x] = src.Data[((b*h+y)*w+x)*c+ch]
				}
			}
		}
	}
	return out
}
