package effnet_test

import (
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/effnet-go/effnet"
	"github.com/effnet-go/effnet/arch"
	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/layers"
)

// A released EfficientNet by name: B0 with timm's and torchvision's
// 5.3 million parameters, and the TensorFlow port with SAME padding.
func ExampleNewPreset() {
	m, err := effnet.NewPreset[float32]("efficientnet_b0", 1000, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Spec.Name, m.Spec.Resolution, m.NumParams())

	tf, err := effnet.NewPreset[float32]("tf_efficientnet_b0", 10, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tf.Spec.Name, tf.Spec.Padding, tf.Spec.BNEps, tf.Spec.Classes)
	// Output:
	// efficientnet_b0 224 5288548
	// tf_efficientnet_b0 same 0.001 10
}

// A custom scaling of B0, its size and its parameters under timm's names.
// The 202,032 parameters are those of timm's
// _gen_efficientnet("efficientnet_b0", channel_multiplier=0.25,
// depth_multiplier=0.5, num_classes=10), the model of the reference
// fixtures.
func ExampleNew() {
	spec, err := arch.Custom(0.25, 0.5, 64) // width 0.25, depth 0.5, 64×64 input
	if err != nil {
		log.Fatal(err)
	}
	spec.Classes = 10
	m, err := effnet.New[float32](spec, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("blocks:", len(m.Blocks), "parameters:", m.NumParams())
	ps := m.Params()
	for _, p := range []*layers.Param[float32]{ps[0], ps[3], ps[len(ps)-1]} {
		fmt.Println(p.Name, p.Value.Shape)
	}
	// Output:
	// blocks: 10 parameters: 202032
	// conv_stem.weight [8 3 3 3]
	// blocks.0.0.conv_dw.weight [8 3 3 1]
	// classifier.bias [10]
}

// Inference on a batch: images are NHWC, normalised as the weights expect;
// any spatial size works.
func ExampleModel_Forward() {
	spec, err := arch.Custom(0.25, 0.5, 64)
	if err != nil {
		log.Fatal(err)
	}
	spec.Classes = 10
	m, err := effnet.New[float32](spec, 1)
	if err != nil {
		log.Fatal(err)
	}
	x := tensor.New[float32](2, 48, 48, 3) // two 48×48 RGB images
	for i := range x.Data {
		x.Data[i] = float32(math.Sin(float64(i)))
	}
	logits, err := m.Forward(x, layers.Eval)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("logits:", logits.Shape)
	// Output:
	// logits: [2 10]
}

// Save writes a safetensors file that records the architecture, so Load
// needs no flags, and the model comes back bit for bit.
func ExampleModel_Save() {
	dir, err := os.MkdirTemp("", "effnet-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	spec, err := arch.Custom(0.25, 0.5, 32)
	if err != nil {
		log.Fatal(err)
	}
	spec.Classes = 3
	m, err := effnet.New[float32](spec, 7)
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "model.safetensors")
	if err := m.Save(path); err != nil {
		log.Fatal(err)
	}

	loaded, err := effnet.Load[float32](path, "") // the spec comes from the file
	if err != nil {
		log.Fatal(err)
	}
	x := tensor.New[float32](1, 32, 32, 3)
	for i := range x.Data {
		x.Data[i] = float32(i%7) - 3
	}
	a, err := m.Forward(x, layers.Eval)
	if err != nil {
		log.Fatal(err)
	}
	want := slices.Clone(a.Data)
	b, err := loaded.Forward(x, layers.Eval)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(loaded.Spec.Name, loaded.Spec.Classes, loaded.NumParams() == m.NumParams())
	fmt.Println("identical logits:", slices.Equal(want, b.Data))
	// Output:
	// custom 3 true
	// identical logits: true
}
