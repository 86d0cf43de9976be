package scaling_test

import (
	"context"
	"fmt"

	"github.com/effnet-go/effnet/scaling"
)

func Example() {
	c := scaling.Paper()
	for _, phi := range []float64{0, 1, 2, 3} {
		m := c.Multipliers(phi)
		fmt.Printf("φ=%v depth %.3f width %.3f resolution %d FLOPs ×%.2f\n",
			phi, m.Depth, m.Width, scaling.ScaleResolution(scaling.BaseResolution, m.Resolution), c.FLOPsFactor(phi))
	}
	// Output:
	// φ=0 depth 1.000 width 1.000 resolution 224 FLOPs ×1.00
	// φ=1 depth 1.200 width 1.100 resolution 258 FLOPs ×1.92
	// φ=2 depth 1.440 width 1.210 resolution 296 FLOPs ×3.69
	// φ=3 depth 1.728 width 1.331 resolution 341 FLOPs ×7.08
}

func ExampleRoundChannels() {
	// B2 widens by 1.1: 32 stays 32 (35.2 rounds down), 40 becomes 48.
	for _, c := range []int{32, 16, 24, 40, 80, 112, 192, 320, 1280} {
		fmt.Print(scaling.RoundChannels(c, 1.1, scaling.Divisor), " ")
	}
	fmt.Println()
	// Output:
	// 32 16 24 48 88 120 208 352 1408
}

func ExampleSearch() {
	candidates, err := scaling.Grid(scaling.GridOptions{Step: 0.1, Max: 1.4, Target: 2, Tolerance: 0.05})
	if err != nil {
		fmt.Println(err)
		return
	}
	// A stand-in for "train the φ=1 network briefly and return accuracy":
	// this one prefers balanced coefficients.
	score := func(_ context.Context, c scaling.Coefficients) (float64, error) {
		return -((c.Alpha-c.Beta)*(c.Alpha-c.Beta) + (c.Beta-c.Gamma)*(c.Beta-c.Gamma)), nil
	}
	results, err := scaling.Search(context.Background(), candidates, score)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(candidates), "candidates; best:")
	for _, r := range results[:3] {
		c := r.Coefficients
		fmt.Printf("α=%.1f β=%.1f γ=%.1f product %.3f\n", c.Alpha, c.Beta, c.Gamma, c.Product())
	}
	// Output:
	// 9 candidates; best:
	// α=1.0 β=1.1 γ=1.3 product 2.045
	// α=1.4 β=1.2 γ=1.0 product 2.016
	// α=1.4 β=1.1 γ=1.1 product 2.050
}
