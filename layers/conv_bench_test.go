package layers

import (
	"testing"

	"github.com/effnet-go/effnet/internal/gradcheck"
	"github.com/effnet-go/effnet/internal/tensor"
)

// EfficientNet-B0 convolution shapes at batch 8 and 224 px, float32.
// Run with: go test ./layers -run XXX -bench Conv -benchtime 20x
var convBenchCases = []struct {
	name string
	cfg  Conv2DConfig
	hw   int // input height and width
}{
	{"stem_3to32_k3s2_224", Conv2DConfig{In: 3, Out: 32, Kernel: 3, Stride: 2}, 224},
	{"pw_16to96_112", Conv2DConfig{In: 16, Out: 96, Kernel: 1}, 112},
	{"pw_96to24_56", Conv2DConfig{In: 96, Out: 24, Kernel: 1}, 56},
	{"pw_40to240_28", Conv2DConfig{In: 40, Out: 240, Kernel: 1}, 28},
	{"dw3_32_s1_112", Conv2DConfig{In: 32, Out: 32, Kernel: 3, Groups: 32}, 112},
	{"dw3_96_s2_112", Conv2DConfig{In: 96, Out: 96, Kernel: 3, Stride: 2, Groups: 96}, 112},
	{"dw5_144_s2_56", Conv2DConfig{In: 144, Out: 144, Kernel: 5, Stride: 2, Groups: 144}, 56},
	{"dw5_240_s1_28", Conv2DConfig{In: 240, Out: 240, Kernel: 5, Groups: 240}, 28},
}

const convBenchBatch = 8

func BenchmarkConvForward(b *testing.B) {
	for _, bc := range convBenchCases {
		b.Run(bc.name, func(b *testing.B) { convBench(b, bc.cfg, bc.hw, false) })
	}
}

// BenchmarkConvBackward times Backward alone (one Train-mode Forward
// first); its FLOPs are twice the forward's: the input and the weight
// gradient each take one product of the forward's size.
func BenchmarkConvBackward(b *testing.B) {
	for _, bc := range convBenchCases {
		b.Run(bc.name, func(b *testing.B) { convBench(b, bc.cfg, bc.hw, true) })
	}
}

func convBench(b *testing.B, cfg Conv2DConfig, hw int, backward bool) {
	c, err := NewConv2D[float32](cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range c.Params() {
		for i, v := range gradcheck.Weights(p.Value.Len(), 1) {
			p.Value.Data[i] = float32(0.1 * v)
		}
	}
	x := tensor.New[float32](convBenchBatch, hw, hw, cfg.In)
	for i, v := range gradcheck.Weights(x.Len(), 2) {
		x.Data[i] = float32(v)
	}
	y, err := c.Forward(x, Train)
	if err != nil {
		b.Fatal(err)
	}
	dy := tensor.New[float32](y.Shape...)
	for i, v := range gradcheck.Weights(dy.Len(), 3) {
		dy.Data[i] = float32(v)
	}
	if _, err := c.Backward(dy); err != nil {
		b.Fatal(err)
	}
	macs := float64(convBenchBatch*y.Shape[1]*y.Shape[2]*cfg.Out) * float64(cfg.Kernel*cfg.Kernel*cfg.In/c.cfg.Groups)
	flops := 2 * macs
	if backward {
		flops *= 2
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var err error
		if backward {
			_, err = c.Backward(dy)
		} else {
			_, err = c.Forward(x, Train)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
