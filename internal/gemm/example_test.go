package gemm_test

import (
	"fmt"

	"github.com/effnet-go/effnet/internal/gemm"
)

// A 1×1 convolution over three pixels of two channels into two output
// channels, with its batch normalisation folded into a per-channel scale
// and bias, a skip connection added, and the output's per-channel sums
// gathered, all in one call.
func ExampleGemmEpilogue() {
	x := []float32{ // 3 pixels × 2 channels (NHWC)
		1, 2,
		3, 4,
		5, 6,
	}
	w := []float32{ // 2 output channels × 2 input channels
		1, 0,
		1, 1,
	}
	skip := []float32{
		100, 200,
		100, 200,
		100, 200,
	}
	e := &gemm.Epilogue{
		Scale:    []float32{2, 1},
		Bias:     []float32{0, -3},
		Residual: skip,
	}
	y := make([]float32, 6)
	// y = (x·wᵀ ⊙ Scale + Bias) + skip
	gemm.GemmEpilogue(false, true, 3, 2, 2, x, 2, w, 2, y, 2, e)
	fmt.Println(y)
	// Output:
	// [102 200 106 204 110 208]
}
