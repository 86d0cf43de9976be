package depthwise

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/effnet-go/effnet/internal/chanops"
	"github.com/effnet-go/effnet/internal/vmath"
)

// EfficientNet-B0 depthwise shapes at batch 8, 224 px (PyTorch padding),
// on one goroutine: the kernels' own speed, without the layer's
// parallelism. Run with: go test ./internal/depthwise -run XXX -bench .
var benchShapes = []struct {
	name    string
	c, k, s int
	hw      int
}{
	{"dw3_32_s1_112", 32, 3, 1, 112},
	{"dw3_96_s2_112", 96, 3, 2, 112},
	{"dw5_144_s2_56", 144, 5, 2, 56},
	{"dw3_144_s1_56", 144, 3, 1, 56},
	{"dw5_240_s1_28", 240, 5, 1, 28},
	{"dw3_240_s2_28", 240, 3, 2, 28},
	{"dw3_480_s1_14", 480, 3, 1, 14},
	{"dw5_672_s1_14", 672, 5, 1, 14},
	{"dw5_672_s2_14", 672, 5, 2, 14},
	{"dw5_1152_s1_7", 1152, 5, 1, 7},
	{"dw3_1152_s1_7", 1152, 3, 1, 7},
}

func BenchmarkKernels(b *testing.B) {
	for _, bs := range benchShapes {
		p := bs.k / 2
		o := (bs.hw+2*p-bs.k)/bs.s + 1
		s := Shape{N: 8, H: bs.hw, W: bs.hw, C: bs.c, K: bs.k, Stride: bs.s, PadT: p, PadL: p, OH: o, OW: o}
		rnd := rand.New(rand.NewPCG(1, 1))
		x := randSlice(rnd, s.N*s.H*s.W*s.C)
		wt := randSlice(rnd, s.K*s.K*s.C)
		dy := randSlice(rnd, s.N*s.OH*s.OW*s.C)
		out := make([]float32, len(dy))
		dx := make([]float32, len(x))
		dw := make([]float32, len(wt))
		flops := 2 * float64(len(dy)*s.K*s.K)
		for _, ks := range available() {
			for _, pass := range []struct {
				name string
				run  func()
			}{
				{"forward", func() { s.forward(ks, out, x, wt, nil, 0, s.N*s.OH) }},
				{"inputgrad", func() { s.inputGrad(ks, dx, dy, wt, 0, s.N*s.H) }},
				{"weightgrad", func() { s.weightGrad(ks, dw, nil, x, dy, 0, s.N*s.OH) }},
			} {
				b.Run(fmt.Sprintf("%s/%s/%s", bs.name, pass.name, ks.name), func(b *testing.B) {
					pass.run() // fault the output pages in outside the timing
					b.ReportAllocs()
					for b.Loop() {
						pass.run()
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// BenchmarkEpilogue compares the eval-mode MBConv work after the
// depthwise convolution (folded batch normalisation, SiLU and the
// squeeze-and-excitation channel sums) fused into the forward pass with
// the same work as three passes of their own over the output, on one
// goroutine. GFLOP/s counts the convolution's FLOPs only.
func BenchmarkEpilogue(b *testing.B) {
	for _, bs := range benchShapes {
		p := bs.k / 2
		o := (bs.hw+2*p-bs.k)/bs.s + 1
		s := Shape{N: 8, H: bs.hw, W: bs.hw, C: bs.c, K: bs.k, Stride: bs.s, PadT: p, PadL: p, OH: o, OW: o}
		rnd := rand.New(rand.NewPCG(1, 1))
		x := randSlice(rnd, s.N*s.H*s.W*s.C)
		wt := randSlice(rnd, s.K*s.K*s.C)
		out := make([]float32, s.N*s.OH*s.OW*s.C)
		e := Epilogue{Scale: randSlice(rnd, s.C), Bias: randSlice(rnd, s.C), Act: ActSiLU, ChanSum: make([]float32, s.N*s.C)}
		flops := 2 * float64(len(out)*s.K*s.K)
		hw := s.OH * s.OW * s.C
		for _, pass := range []struct {
			name string
			run  func()
		}{
			{"fused", func() { s.ForwardEpilogue(out, x, wt, &e, 0, s.N*s.OH) }},
			{"separate", func() {
				s.Forward(out, x, wt, nil, 0, s.N*s.OH)
				chanops.ScaleAddRows(out, out, e.Scale, e.Bias)
				vmath.SiLU(out, nil, out)
				for n := 0; n < s.N; n++ {
					chanops.ColSums(e.ChanSum[n*s.C:(n+1)*s.C], out[n*hw:(n+1)*hw])
				}
			}},
		} {
			b.Run(bs.name+"/"+pass.name, func(b *testing.B) {
				pass.run()
				for b.Loop() {
					pass.run()
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
