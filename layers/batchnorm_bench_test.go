package layers

import (
	"testing"

	"github.com/effnet-go/effnet/internal/tensor"
)

// BenchmarkBatchNormTrain times a Train-mode Forward and Backward of a
// B0-sized activation, [32, 64, 64, 96] float32 (12.6M elements).
func BenchmarkBatchNormTrain(b *testing.B) {
	const n, h, w, c = 32, 64, 64, 96
	bn, err := NewBatchNorm2D[float32](c, DefaultBNEps, DefaultBNMomentum)
	if err != nil {
		b.Fatal(err)
	}
	x := tensor.New[float32](n, h, w, c)
	dy := tensor.New[float32](n, h, w, c)
	for i := range x.Data {
		x.Data[i] = float32(i%251)/64 - 2
		dy.Data[i] = float32(i%127)/128 - 0.5
	}
	b.SetBytes(int64(4 * len(x.Data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bn.Forward(x, Train); err != nil {
			b.Fatal(err)
		}
		if _, err := bn.Backward(dy); err != nil {
			b.Fatal(err)
		}
	}
}
