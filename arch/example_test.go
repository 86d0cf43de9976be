package arch_test

import (
	"fmt"

	"github.com/effnet-go/effnet/arch"
	"github.com/effnet-go/effnet/scaling"
)

func Example() {
	n, err := arch.Preset("b0")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(n)
	// Output:
	// efficientnet_b0: 224x224 input, 3→32 stem, 16 blocks, head 1280, 1000 classes
	// padding symmetric, activation silu, BN eps 1e-05 momentum 0.1, dropout 0.2, drop-path 0.2
	//   block  stage    kind   in   mid  out  kernel  stride  se  skip  drop-path
	//       0    1.0      ds   32    32   16       3       1   8     -     0.0000
	//       1    2.0  mbconv   16    96   24       3       2   4     -     0.0125
	//       2    2.1  mbconv   24   144   24       3       1   6   yes     0.0250
	//       3    3.0  mbconv   24   144   40       5       2   6     -     0.0375
	//       4    3.1  mbconv   40   240   40       5       1  10   yes     0.0500
	//       5    4.0  mbconv   40   240   80       3       2  10     -     0.0625
	//       6    4.1  mbconv   80   480   80       3       1  20   yes     0.0750
	//       7    4.2  mbconv   80   480   80       3       1  20   yes     0.0875
	//       8    5.0  mbconv   80   480  112       5       1  20     -     0.1000
	//       9    5.1  mbconv  112   672  112       5       1  28   yes     0.1125
	//      10    5.2  mbconv  112   672  112       5       1  28   yes     0.1250
	//      11    6.0  mbconv  112   672  192       5       2  28     -     0.1375
	//      12    6.1  mbconv  192  1152  192       5       1  48   yes     0.1500
	//      13    6.2  mbconv  192  1152  192       5       1  48   yes     0.1625
	//      14    6.3  mbconv  192  1152  192       5       1  48   yes     0.1750
	//      15    7.0  mbconv  192  1152  320       3       1  48     -     0.1875
}

func ExamplePreset_unknown() {
	_, err := arch.Preset("b9")
	fmt.Println(err)
	// Output:
	// arch: unknown network "b9"; valid: b0..b7, efficientnet_b0..b7, tf_efficientnet_b0..b7, torchvision_efficientnet_b0..b7
}

func ExampleCompound() {
	// φ = 2 with the paper's coefficients: depth 1.44, width 1.21,
	// resolution 224·1.3225 ≈ 296.
	n, err := arch.Compound(scaling.Paper(), 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n.Resolution, n.Stem, n.Head, n.NumBlocks())
	for _, s := range n.Stages {
		fmt.Print(s.Repeats, "×", s.Out, " ")
	}
	fmt.Println()
	// Output:
	// 296 40 1552 26
	// 2×24 3×32 3×48 5×96 5×136 6×232 2×384
}

func ExampleNetwork_Blocks() {
	n, err := arch.Preset("b1")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, b := range n.Blocks()[:4] {
		fmt.Printf("stage %d.%d %v %d→%d→%d stride %d SE %d skip %v drop-path %.4f\n",
			b.Stage+1, b.IndexInStage, b.Kind, b.In, b.Mid, b.Out, b.Stride, b.SE, b.Skip, b.DropPath)
	}
	// Output:
	// stage 1.0 ds 32→32→16 stride 1 SE 8 skip false drop-path 0.0000
	// stage 1.1 ds 16→16→16 stride 1 SE 4 skip true drop-path 0.0087
	// stage 2.0 mbconv 16→96→24 stride 2 SE 4 skip false drop-path 0.0174
	// stage 2.1 mbconv 24→144→24 stride 1 SE 6 skip true drop-path 0.0261
}
