package layers

import (
	"errors"
	"fmt"
	"math"

	"github.com/effnet-go/effnet/internal/tensor"
)

// CrossEntropy is the softmax cross-entropy loss of logits [N, K] against
// integer labels, averaged over the batch, with PyTorch's label smoothing:
// the target distribution is (1-ε)·onehot(label) + ε/K.
//
// Forward computes the loss and, in the same pass, its gradient with
// respect to the logits, which Backward returns. The arithmetic is float64
// whatever T is, with the row maximum subtracted before exponentiating so
// that large logits do not overflow.
type CrossEntropy[T Float] struct {
	// Smoothing is ε in [0, 1].
	Smoothing float64

	grad    *Tensor[T]
	correct int
	ready   bool
}

// NewCrossEntropy returns the loss with label smoothing ε (0 for plain
// cross-entropy; EfficientNet trains with 0.1). It panics if ε is outside
// [0, 1].
func NewCrossEntropy[T Float](smoothing float64) *CrossEntropy[T] {
	if !(smoothing >= 0 && smoothing <= 1) {
		panic(fmt.Sprintf("layers: label smoothing %v outside [0, 1]", smoothing))
	}
	return &CrossEntropy[T]{Smoothing: smoothing}
}

func (c *CrossEntropy[T]) String() string {
	return fmt.Sprintf("CrossEntropy(smoothing=%g)", c.Smoothing)
}

// Forward returns the mean loss over the batch. labels[i] is the class of
// row i of logits and must lie in [0, K).
func (c *CrossEntropy[T]) Forward(logits *Tensor[T], labels []int) (float64, error) {
	c.ready = false
	if logits.Dims() != 2 {
		return 0, &ShapeError{Layer: c.String(), Want: "[N K]", Got: append([]int(nil), logits.Shape...), Argument: "logits"}
	}
	n, k := logits.Shape[0], logits.Shape[1]
	if len(labels) != n {
		return 0, fmt.Errorf("%v: %d labels for %d rows of logits", c, len(labels), n)
	}
	if n == 0 {
		return 0, errors.New(c.String() + ": empty batch")
	}
	for i, y := range labels {
		if y < 0 || y >= k {
			return 0, fmt.Errorf("%v: label %d at index %d is outside [0, %d)", c, y, i, k)
		}
	}
	c.grad = tensor.Ensure(c.grad, n, k)
	eps := c.Smoothing
	invN := 1 / float64(n)
	loss := 0.0
	c.correct = 0
	for i, y := range labels {
		row := logits.Data[i*k : (i+1)*k]
		g := c.grad.Data[i*k : (i+1)*k]
		m, arg, sum := math.Inf(-1), 0, 0.0
		for j, v := range row {
			if float64(v) > m {
				m, arg = float64(v), j
			}
		}
		if arg == y {
			c.correct++
		}
		mean := 0.0
		for _, v := range row {
			sum += math.Exp(float64(v) - m)
			mean += float64(v)
		}
		mean /= float64(k)
		lse := m + math.Log(sum)
		// -Σ target·log softmax = lse - (1-ε)·x_y - ε·mean(x).
		loss += lse - (1-eps)*float64(row[y]) - eps*mean
		for j, v := range row {
			t := eps / float64(k)
			if j == y {
				t += 1 - eps
			}
			g[j] = T((math.Exp(float64(v)-lse) - t) * invN)
		}
	}
	c.ready = true
	return loss * invN, nil
}

// Backward returns the gradient of the last Forward's loss with respect to
// its logits, (softmax - target)/N, in a buffer the next Forward reuses. It
// panics if Forward has not succeeded before, a bug in the caller.
func (c *CrossEntropy[T]) Backward() *Tensor[T] {
	if !c.ready {
		panic("layers: CrossEntropy.Backward without a successful Forward")
	}
	return c.grad
}

// Correct returns how many rows of the last Forward had their largest logit
// (the first one, on ties) at the label: the batch's top-1 hits.
func (c *CrossEntropy[T]) Correct() int { return c.correct }
