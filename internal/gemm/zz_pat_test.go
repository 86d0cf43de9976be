package gemm

import (
	"runtime"
	"testing"
)

func BenchmarkPattern(b *testing.B) {
	workers := runtime.GOMAXPROCS(0)
	const m, n, k = 401408, 32, 16
	for _, ldc := range []int{32, 96} {
		name := "contig"
		if ldc == 96 {
			name = "strided"
		}
		b.Run(name, func(b *testing.B) {
			a := make([]float32, m*k)
			bb := make([]float32, n*k)
			c := make([]float32, m*ldc)
			for i := range a {
				a[i] = float32(i%5) - 2
			}
			for i := range bb {
				bb[i] = float32(i%3) - 1
			}
			if !streams(fastest, m, k, 0, ldc, false) {
				b.Fatal("no nt")
			}
			sgemm(fastest, workers, false, true, m, n, k, 1, a, k, bb, k, 0, c, ldc)
			b.ResetTimer()
			for b.Loop() {
				sgemm(fastest, workers, false, true, m, n, k, 1, a, k, bb, k, 0, c, ldc)
			}
			flops := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
