package layers_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/effnet-go/effnet/layers"
)

// A classifier head: pool a feature map, drop out, classify, and take one
// gradient of the cross-entropy loss.
func ExampleSequential() {
	rng := rand.New(rand.NewPCG(1, 2))
	fc := layers.NewLinear[float32](8, 3, true)
	for i := range fc.Weight.Value.Data {
		fc.Weight.Value.Data[i] = float32(rng.NormFloat64()) * 0.1
	}
	head := layers.NewSequential[float32](
		layers.NewGlobalAvgPool[float32](),
		layers.NewDropout[float32](0.2, rng),
		fc,
	)

	x := layers.NewTensor[float32](2, 4, 4, 8) // NHWC: 2 images, 4×4, 8 channels
	for i := range x.Data {
		x.Data[i] = float32(i%7) - 3
	}
	logits, err := head.Forward(x, layers.Train)
	if err != nil {
		panic(err)
	}
	loss := layers.NewCrossEntropy[float32](0.1)
	if _, err := loss.Forward(logits, []int{0, 2}); err != nil {
		panic(err)
	}
	dx, err := head.Backward(loss.Backward())
	if err != nil {
		panic(err)
	}
	fmt.Println("logits", logits.Shape)
	fmt.Println("input gradient", dx.Shape)
	fmt.Println("weight gradient", fc.Weight.Grad.Shape)
	// Output:
	// logits [2 3]
	// input gradient [2 4 4 8]
	// weight gradient [3 8]
}

// Squeeze-and-excitation rescales channels and keeps the shape.
func ExampleNewSqueezeExcite() {
	se := layers.NewSqueezeExcite[float32](16, 4, layers.SiLU)
	for _, p := range se.Params() {
		fmt.Println(p.Name, p.Value.Shape)
	}
	// With all weights zero the gate is sigmoid(0) = 0.5 everywhere.
	x := layers.NewTensor[float32](1, 2, 2, 16)
	for i := range x.Data {
		x.Data[i] = 1
	}
	y, err := se.Forward(x, layers.Eval)
	if err != nil {
		panic(err)
	}
	fmt.Println(se, y.Shape, y.Data[0])
	// Output:
	// reduce.weight [4 16]
	// reduce.bias [4]
	// expand.weight [16 4]
	// expand.bias [16]
	// SqueezeExcite(16→4, SiLU) [1 2 2 16] 0.5
}

// Label smoothing moves ε of the target mass to a uniform distribution,
// so even a confident correct prediction keeps a loss.
func ExampleCrossEntropy() {
	logits := layers.NewTensor[float64](1, 4)
	logits.Data[2] = 10
	for _, eps := range []float64{0, 0.1} {
		ce := layers.NewCrossEntropy[float64](eps)
		loss, err := ce.Forward(logits, []int{2})
		if err != nil {
			panic(err)
		}
		fmt.Printf("smoothing %.1f: loss %.4f, correct %d\n", eps, loss, ce.Correct())
	}
	// Output:
	// smoothing 0.0: loss 0.0001, correct 1
	// smoothing 0.1: loss 0.7501, correct 1
}

// In inference a convolution, its BatchNorm and the activation run as one
// pass: the normalisation is folded into the convolution's epilogue.
func ExampleConv2D_ForwardEval() {
	conv, err := layers.NewConv2D[float32](layers.Conv2DConfig{In: 4, Out: 6, Kernel: 1})
	if err != nil {
		panic(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	layers.InitKaimingNormalFanOut(conv.Weight, rng)
	bn, err := layers.NewBatchNorm2D[float32](6, layers.DefaultBNEps, layers.DefaultBNMomentum)
	if err != nil {
		panic(err)
	}
	bn.Act = layers.SiLU // timm's BatchNormAct2d

	x := layers.NewTensor[float32](1, 3, 3, 4)
	for i := range x.Data {
		x.Data[i] = float32(i%5) - 2
	}
	// The plain way: three layers, three passes over the output.
	h, err := conv.Forward(x, layers.Eval)
	if err != nil {
		panic(err)
	}
	want, err := bn.Forward(h, layers.Eval)
	if err != nil {
		panic(err)
	}
	want = want.Clone()

	// The fused way.
	e := layers.Epilogue[float32]{Scale: make([]float32, 6), Bias: make([]float32, 6), Act: layers.SiLU}
	bn.EvalAffine(e.Scale, e.Bias)
	got, err := conv.ForwardEval(x, &e)
	if err != nil {
		panic(err)
	}
	var worst float64
	for i, v := range got.Data {
		worst = max(worst, math.Abs(float64(v-want.Data[i])))
	}
	fmt.Println(got.Shape, worst < 1e-6)
	// Output:
	// [1 3 3 6] true
}
