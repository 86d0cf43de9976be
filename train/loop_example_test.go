package train_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/effnet-go/effnet"
	"github.com/effnet-go/effnet/data"
	"github.com/effnet-go/effnet/train"
)

// Training a small EfficientNet: loaders, optimiser, schedule and a
// checkpoint after every epoch; a second Trainer resumes from it.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "effnet-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ckpt := filepath.Join(dir, "checkpoint.safetensors")

	build := func(epochs int) (*train.Trainer[float32], error) {
		model, err := effnet.New[float32](tinySpec(), 1)
		if err != nil {
			return nil, err
		}
		trainData, err := data.NewLoader(newSquares(48, 7), data.TrainTransform(16),
			data.LoaderConfig{BatchSize: 8, Shuffle: true, DropLast: true, Seed: 1})
		if err != nil {
			return nil, err
		}
		valData, err := data.NewLoader(newSquares(24, 8), data.EvalTransform(16), data.LoaderConfig{BatchSize: 8})
		if err != nil {
			return nil, err
		}
		opt, err := train.NewSGD(model.Params(), train.SGDConfig{Momentum: 0.9, Nesterov: true, NoDecay: train.NormAndBias, WeightDecay: 1e-4})
		if err != nil {
			return nil, err
		}
		return train.New[float32](model, train.Config[float32]{
			Epochs: epochs, Train: trainData, Val: valData, Optimizer: opt,
			Schedule:       train.WarmupCosine{Base: 0.05, WarmupSteps: 6, TotalSteps: 3 * trainData.Len()},
			LabelSmoothing: 0.1,
			CheckpointPath: ckpt,
			Spec:           tinySpec(),
		})
	}

	first, err := build(2) // stops after two of the three epochs
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := first.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	second, err := build(3)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := second.LoadCheckpoint(ckpt); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("resuming after epoch", second.Epoch(), "at step", second.Step())
	hist, err := second.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range hist {
		fmt.Printf("epoch %d: %d steps done, last lr %.4f\n", m.Epoch, m.Step, m.LR)
	}
	// Output:
	// resuming after epoch 2 at step 12
	// epoch 1: 6 steps done, last lr 0.0417
	// epoch 2: 12 steps done, last lr 0.0315
	// epoch 3: 18 steps done, last lr 0.0009
}
