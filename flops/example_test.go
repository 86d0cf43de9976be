package flops_test

import (
	"fmt"

	"github.com/effnet-go/effnet/arch"
	"github.com/effnet-go/effnet/flops"
)

func Example() {
	for _, name := range []string{"b0", "b3"} {
		n, err := arch.Preset(name)
		if err != nil {
			fmt.Println(err)
			return
		}
		r, err := flops.Count(n)
		if err != nil {
			fmt.Println(err)
			return
		}
		_, dw := r.Sum(flops.Depthwise)
		fmt.Printf("%s at %d: %d params, %d MACs (%.1f%% depthwise), %d other ops\n",
			name, r.Resolution, r.Params, r.MACs, 100*float64(dw)/float64(r.MACs), r.Other.Total())
	}
	// Output:
	// b0 at 224: 5288548 params, 385814752 MACs (9.0% depthwise), 17790460 other ops
	// b3 at 300: 12233232 params, 1827141392 MACs (7.3% depthwise), 64835736 other ops
}

func ExampleCount() {
	n, err := arch.Preset("b0")
	if err != nil {
		fmt.Println(err)
		return
	}
	n.Resolution = 128 // any resolution, e.g. for Imagenette at 128 px
	r, err := flops.Count(n)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range r.Layers[:8] {
		fmt.Printf("%-26s %-9v %-12v → %-12v %6d params %9d MACs\n", l.Name, l.Kind, l.In, l.Out, l.Params, l.MACs)
	}
	fmt.Println("total MACs", r.MACs)
	// Output:
	// conv_stem                  conv      3×128×128    → 32×64×64        864 params   3538944 MACs
	// bn1                        bn        32×64×64     → 32×64×64         64 params         0 MACs
	// blocks.0.0.conv_dw         depthwise 32×64×64     → 32×64×64        288 params   1179648 MACs
	// blocks.0.0.bn1             bn        32×64×64     → 32×64×64         64 params         0 MACs
	// blocks.0.0.se.conv_reduce  se        32×1×1       → 8×1×1           264 params       256 MACs
	// blocks.0.0.se.conv_expand  se        8×1×1        → 32×1×1          288 params       256 MACs
	// blocks.0.0.conv_pw         pointwise 32×64×64     → 16×64×64        512 params   2097152 MACs
	// blocks.0.0.bn2             bn        16×64×64     → 16×64×64         32 params         0 MACs
	// total MACs 127264768
}
