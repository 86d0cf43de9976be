package mbconv_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/effnet-go/effnet/layers"
	"github.com/effnet-go/effnet/mbconv"
)

// The first block of EfficientNet-B0's second stage: it widens 16 channels
// to 96, filters them with a 3×3 depthwise convolution at stride 2, gates
// them with a 4-wide squeeze-excite and projects them to 24 channels.
// Forward in Train mode keeps what Backward needs; Eval mode runs the
// BatchNorm-folded block with the same output shape. The 6004 parameters
// are those of timm's blocks.1.0 (torchvision's features[2][0]).
func ExampleNew() {
	cfg := mbconv.Config{
		In: 16, Mid: 96, Out: 24, Kernel: 3, Stride: 2, SE: 4,
		Padding: layers.PadSymmetric, BNEps: 1e-5, BNMomentum: 0.1, Act: layers.SiLU,
	}
	b, err := mbconv.New[float32](cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		panic(err)
	}
	params := 0
	for _, p := range b.Params() {
		params += p.Value.Len()
	}
	fmt.Println(b, params, "parameters")

	x := layers.NewTensor[float32](2, 16, 16, 16) // NHWC: 2 images, 16×16, 16 channels
	for i := range x.Data {
		x.Data[i] = float32(i%11)/5 - 1
	}
	y, err := b.Forward(x, layers.Train)
	if err != nil {
		panic(err)
	}
	fmt.Println("train output", y.Shape)
	dy := layers.NewTensor[float32](y.Shape...)
	for i := range dy.Data {
		dy.Data[i] = 1
	}
	dx, err := b.Backward(dy)
	if err != nil {
		panic(err)
	}
	fmt.Println("input gradient", dx.Shape)
	y, err = b.Forward(x, layers.Eval)
	if err != nil {
		panic(err)
	}
	fmt.Println("eval output", y.Shape)

	// The identity path needs the input's resolution and width kept.
	cfg.Skip = true
	_, err = mbconv.New[float32](cfg, rand.New(rand.NewPCG(1, 2)))
	fmt.Println(err)
	// Output:
	// MBConv(16→96→24, k3, s2, se 4, skip false) 6004 parameters
	// train output [2 8 8 24]
	// input gradient [2 16 16 16]
	// eval output [2 8 8 24]
	// mbconv: identity skip needs stride 1 and in == out, got stride 2, 16→24
}
