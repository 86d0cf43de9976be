//go:build amd64 && !noasm

package gemm

import (
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/cpu"
)

// peakIters is the length of one FMA run, about 3.5 ms: short runs measured
// from 100 to 220 GFLOP/s on one core in a row, long ones within 5 %.
const peakIters = 1_000_000

// BenchmarkPeak measures the FP32 FMA peak of one core in the same run as
// the GEMM benchmarks, so that kernel speeds can be quoted as a fraction of
// what the core delivers at that moment (the machine may be shared).
func BenchmarkPeak(b *testing.B) {
	if !cpu.X86.HasAVX512F {
		b.Skip("no AVX-512")
	}
	for b.Loop() {
		fmaPeakAVX512(peakIters)
	}
	b.ReportMetric(768*peakIters*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkPeakAllCores runs the FMA loop on GOMAXPROCS goroutines at once:
// the peak that BenchmarkSgemm, which uses every core, is measured against.
// It is not simply twice BenchmarkPeak where cores share a clock budget or
// a neighbour on the host takes cycles from one of them.
func BenchmarkPeakAllCores(b *testing.B) {
	if !cpu.X86.HasAVX512F {
		b.Skip("no AVX-512")
	}
	procs := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for b.Loop() {
		for range procs {
			wg.Go(func() { fmaPeakAVX512(peakIters) })
		}
		wg.Wait()
	}
	b.ReportMetric(768*peakIters*float64(procs)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
