package train_test

import (
	"errors"
	"fmt"

	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/layers"
	"github.com/effnet-go/effnet/train"
)

// A training loop in miniature: minimise (w − 3)² with Nesterov SGD and a
// warmup-cosine schedule, checking for divergence before each step.
func ExampleNewSGD() {
	w := &layers.Param[float64]{Name: "w", Value: tensor.New[float64](1), Grad: tensor.New[float64](1)}
	params := []*layers.Param[float64]{w}
	opt, err := train.NewSGD(params, train.SGDConfig{Momentum: 0.9, Nesterov: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	sched := train.WarmupCosine{Base: 0.1, WarmupSteps: 5, TotalSteps: 100}
	for step := range 100 {
		opt.ZeroGrad()
		w.Grad.Data[0] += 2 * (w.Value.Data[0] - 3) // what Backward would add
		if err := train.CheckGrads(params); err != nil {
			fmt.Println("stopping at step", step, err)
			return
		}
		if err := opt.Step(sched.LR(step)); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Printf("w = %.3f\n", w.Value.Data[0])
	// Output: w = 3.000
}

// The TensorFlow EfficientNet recipe: RMSProp with decay 0.9, momentum 0.9,
// ε 1e-3, weight decay 1e-5 except on BatchNorm and bias parameters.
func ExampleEfficientNetRMSProp() {
	conv := &layers.Param[float32]{Name: "stem.conv.weight", Value: tensor.New[float32](32, 3, 3, 3), Grad: tensor.New[float32](32, 3, 3, 3)}
	bn := &layers.Param[float32]{Name: "stem.bn.weight", Value: tensor.New[float32](32), Grad: tensor.New[float32](32)}
	opt, err := train.NewRMSProp([]*layers.Param[float32]{conv, bn}, train.EfficientNetRMSProp())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, b := range opt.State() {
		fmt.Println(b.Name, b.Value.Shape)
	}
	// Output:
	// stem.conv.weight.square_avg [32 3 3 3]
	// stem.conv.weight.momentum_buffer [32 3 3 3]
	// stem.bn.weight.square_avg [32]
	// stem.bn.weight.momentum_buffer [32]
}

func ExampleWarmupCosine() {
	s := train.WarmupCosine{Base: 0.1, Floor: 0.001, WarmupStart: 0.01, WarmupSteps: 10, TotalSteps: 110}
	for _, step := range []int{0, 5, 10, 60, 110} {
		fmt.Printf("step %3d: %.4f\n", step, s.LR(step))
	}
	// Output:
	// step   0: 0.0100
	// step   5: 0.0550
	// step  10: 0.1000
	// step  60: 0.0505
	// step 110: 0.0010
}

// The paper's schedule at 100 steps an epoch: 0.97 every 2.4 epochs after
// five warmup epochs.
func ExamplePaperDecay() {
	s := train.PaperDecay(0.016, 100)
	for _, epoch := range []float64{0, 2.5, 4.8, 5, 7.2, 24} {
		fmt.Printf("epoch %4.1f: %.6f\n", epoch, s.LR(int(epoch*100)))
	}
	// Output:
	// epoch  0.0: 0.000000
	// epoch  2.5: 0.008000
	// epoch  4.8: 0.015360
	// epoch  5.0: 0.015054
	// epoch  7.2: 0.014603
	// epoch 24.0: 0.011799
}

// Evaluating with the averaged weights: Apply swaps them in, Restore puts
// the training weights back.
func ExampleEMA() {
	w := &layers.Param[float64]{Name: "w", Value: tensor.New[float64](1), Grad: tensor.New[float64](1)}
	ema, err := train.NewEMA([]*layers.Param[float64]{w}, nil, train.EMAConfig{Decay: 0.5})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range []float64{8, 8, 8} { // training moves w from 0 to 8
		w.Value.Data[0] = v
		if err := ema.Update(); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := ema.Apply(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("evaluating with w =", w.Value.Data[0])
	if err := ema.Restore(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("training with w =", w.Value.Data[0])
	// Output:
	// evaluating with w = 7
	// training with w = 8
}

// A diverged loss stops the loop; errors.Is recognises it.
func ExampleCheckLoss() {
	var zero float64
	loss := zero / zero
	if err := train.CheckLoss(loss); errors.Is(err, train.ErrNonFinite) {
		fmt.Println(err)
	}
	// Output: train: loss is NaN: non-finite value
}
