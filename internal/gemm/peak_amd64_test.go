//go:build amd64 && !noasm

package gemm

import (
	"testing"

	"golang.org/x/sys/cpu"
)

// BenchmarkPeak measures the FP32 FMA peak of one core in the same run as
// the GEMM benchmarks, so that kernel speeds can be quoted as a fraction of
// what the core delivers at that moment (the machine may be shared).
func BenchmarkPeak(b *testing.B) {
	if !cpu.X86.HasAVX512F {
		b.Skip("no AVX-512")
	}
	const iters = 10000
	for b.Loop() {
		fmaPeakAVX512(iters)
	}
	b.ReportMetric(768*iters*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
