package gemm

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/effnet-go/effnet/internal/chanops"
	"github.com/effnet-go/effnet/internal/parallel"
	"github.com/effnet-go/effnet/internal/vmath"
)

// benchShape is one product C = op(A)·op(B) of the benchmarks.
type benchShape struct {
	name           string
	transA, transB bool
	m, n, k        int
}

// benchBatch is the batch size of b0Shapes (go test -bench Sgemm -args
// -batch 1). The default, 8, is the batch of the inference comparison with
// PyTorch. Smaller batches make products of tens of microseconds, where
// waking the second core costs a visible share.
var benchBatch = flag.Int("batch", 8, "batch size of the B0 1×1-convolution benchmark shapes")

// b0Shapes are the 1×1 convolutions of EfficientNet-B0 at batch benchBatch, 224 px,
// as the layers issue them on NHWC activations (M = batch·H·W rows):
//
//	forward  Y  = X·Wᵀ    m = M,    n = Cout, k = Cin  (W is [Cout, Cin])
//	backward dX = dY·W    m = M,    n = Cin,  k = Cout
//	backward dW = dYᵀ·X   m = Cout, n = Cin,  k = M
//
// plus a square 1024³ product for comparison with the machine's peak.
func b0Shapes() []benchShape {
	convs := []struct {
		name    string
		cin     int
		cout    int
		spatial int
	}{
		{"expand16to96@112", 16, 96, 112},
		{"project96to24@56", 96, 24, 56},
		{"expand24to144@56", 24, 144, 56},
		{"project144to40@28", 144, 40, 28},
		{"expand40to240@28", 40, 240, 28},
		{"project480to80@14", 480, 80, 14},
		{"project1152to192@7", 1152, 192, 7},
		{"head320to1280@7", 320, 1280, 7},
	}
	var s []benchShape
	for _, c := range convs {
		m := *benchBatch * c.spatial * c.spatial
		s = append(s,
			benchShape{"fwd/" + c.name, false, true, m, c.cout, c.cin},
			benchShape{"dX/" + c.name, false, false, m, c.cin, c.cout},
			benchShape{"dW/" + c.name, true, false, c.cout, c.cin, m},
		)
	}
	return append(s, benchShape{"square1024", false, false, 1024, 1024, 1024})
}

type benchData struct {
	a, b, c       []float32
	lda, ldb, ldc int
}

func newBenchData(s benchShape) benchData {
	rnd := rand.New(rand.NewPCG(1, 1))
	d := benchData{lda: s.k, ldb: s.n, ldc: s.n}
	if s.transA {
		d.lda = s.m
	}
	if s.transB {
		d.ldb = s.k
	}
	d.a = make([]float32, s.m*s.k)
	d.b = make([]float32, s.k*s.n)
	d.c = make([]float32, s.m*s.n)
	for _, x := range [][]float32{d.a, d.b} {
		for i := range x {
			x[i] = rnd.Float32() - 0.5
		}
	}
	return d
}

func runBench(b *testing.B, s benchShape, call func(d benchData)) {
	d := newBenchData(s)
	call(d) // warm the workspace pool and the caches
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		call(d)
	}
	flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	// The compulsory traffic: each operand read or written once. Compare
	// with BenchmarkStream: products with 16 or 24 channels run near the
	// memory bandwidth long before they near the FMA peak.
	bytes := 4 * float64(s.m*s.k+s.k*s.n+s.m*s.n) * float64(b.N)
	b.ReportMetric(bytes/b.Elapsed().Seconds()/1e9, "GB/s")
}

// BenchmarkStream measures, in the same run as the products, the memory
// bandwidth of all cores on a 128 MB buffer (far beyond the caches):
// reading it (an AVX-512 column sum), copying it (Go's copy; GB/s counts
// the bytes read and written), and writing it (Go's clear, whose stores at
// this size are non-temporal, as the products with a large C store it;
// see streams). fwd/expand16to96 writes 38.5 MB for 0.31 GFLOP: at this
// rate the writes take well under the FMAs' time. (A k = 1 product
// storing the same 128 MB ran at less than half this rate: at k = 1 the
// tiles' own overhead, not memory, bounds it.)
func BenchmarkStream(b *testing.B) {
	const n = 32 << 20 // floats
	x, y := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = 1
	}
	copy(y, x) // fault the pages in before timing
	workers := runtime.GOMAXPROCS(0)
	share := func(lo, hi int) (int, int) { return lo * n / workers, hi * n / workers }
	sums := make([]float32, 64*workers)
	read := func(lo, hi int) {
		for w := lo; w < hi; w++ {
			l, h := share(w, w+1)
			chanops.ColSums(sums[64*w:64*w+64], x[l:h])
		}
	}
	cp := func(lo, hi int) {
		l, h := share(lo, hi)
		copy(y[l:h], x[l:h])
	}
	wr := func(lo, hi int) {
		l, h := share(lo, hi)
		clear(y[l:h])
	}
	for _, c := range []struct {
		name  string
		run   func()
		bytes float64
	}{
		{"read", func() { parallel.For(workers, 1, read) }, 4 * n},
		{"copy", func() { parallel.For(workers, 1, cp) }, 8 * n},
		{"write", func() { parallel.For(workers, 1, wr) }, 4 * n},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.run()
			}
			b.ReportMetric(c.bytes*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}

// BenchmarkStreamedColumns runs one streamed product (C written with
// non-temporal stores, see streams) two ways: into a C exactly its 32
// columns wide, and into the first 32 of 96 columns of a C three times as
// large, so that each row's stores cover 128 of every 384 bytes. Same
// FLOPs, same bytes written; the second is what a column panel at a time
// did to the forward of expand16to96 (see rowWise).
func BenchmarkStreamedColumns(b *testing.B) {
	workers := runtime.GOMAXPROCS(0)
	const m, n, k = 401408, 32, 16 // expand16to96's rows at batch 32
	rnd := rand.New(rand.NewPCG(3, 4))
	a, bt := normals(rnd, m*k), normals(rnd, n*k)
	for _, ldc := range []int{n, 3 * n} {
		b.Run(fmt.Sprintf("ldc%d", ldc), func(b *testing.B) {
			c := alignedFloats(m * ldc)
			if !streams(fastest, m, k, 0, ldc, false) {
				b.Skip("the fastest kernel does not stream this product")
			}
			call := func() { sgemm(fastest, workers, false, true, m, n, k, 1, a, k, bt, k, 0, c, ldc) }
			call()
			b.ResetTimer()
			for b.Loop() {
				call()
			}
			b.ReportMetric(2*m*n*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(4*m*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s-of-C")
		})
	}
}

// BenchmarkSgemm runs the fastest kernel on all cores, as Gemm does.
func BenchmarkSgemm(b *testing.B) {
	workers := runtime.GOMAXPROCS(0)
	for _, s := range b0Shapes() {
		b.Run(s.name, func(b *testing.B) {
			runBench(b, s, func(d benchData) {
				sgemm(fastest, workers, s.transA, s.transB, s.m, s.n, s.k, 1, d.a, d.lda, d.b, d.ldb, 0, d.c, d.ldc)
			})
		})
	}
}

// BenchmarkSgemm1Core runs the fastest kernel on one core, to compare with
// the per-core peak.
func BenchmarkSgemm1Core(b *testing.B) {
	for _, s := range b0Shapes() {
		b.Run(s.name, func(b *testing.B) {
			runBench(b, s, func(d benchData) {
				sgemm(fastest, 1, s.transA, s.transB, s.m, s.n, s.k, 1, d.a, d.lda, d.b, d.ldb, 0, d.c, d.ldc)
			})
		})
	}
}

// BenchmarkSgemmKernels runs every kernel of this build on the square
// product, serially.
func BenchmarkSgemmKernels(b *testing.B) {
	s := benchShape{"square512", false, false, 512, 512, 512}
	for _, kern := range kernels() {
		b.Run(fmt.Sprintf("%s/%s", kern.name, s.name), func(b *testing.B) {
			runBench(b, s, func(d benchData) {
				sgemm(kern, 1, s.transA, s.transB, s.m, s.n, s.k, 1, d.a, d.lda, d.b, d.ldb, 0, d.c, d.ldc)
			})
		})
	}
}

// BenchmarkGonumSgemm is the baseline: gonum's Sgemm on the same shapes.
func BenchmarkGonumSgemm(b *testing.B) {
	var impl gonum.Implementation
	for _, s := range b0Shapes() {
		b.Run(s.name, func(b *testing.B) {
			ta, tb := blas.NoTrans, blas.NoTrans
			if s.transA {
				ta = blas.Trans
			}
			if s.transB {
				tb = blas.Trans
			}
			runBench(b, s, func(d benchData) {
				impl.Sgemm(ta, tb, s.m, s.n, s.k, 1, d.a, d.lda, d.b, d.ldb, 0, d.c, d.ldc)
			})
		})
	}
}

// BenchmarkEpilogue compares a forward 1×1 convolution with folded batch
// normalisation and SiLU done by GemmEpilogue with the same work done as
// Gemm followed by separate passes over C (vmath's NormRows and SiLU,
// spread over the cores as the layers do). GFLOP/s counts the product only.
func BenchmarkEpilogue(b *testing.B) {
	workers := runtime.GOMAXPROCS(0)
	for _, s := range b0Shapes() {
		if !strings.HasPrefix(s.name, "fwd/") {
			continue
		}
		scale, bias := make([]float32, s.n), make([]float32, s.n)
		for j := range scale {
			scale[j], bias[j] = 0.5+float32(j%7)/7, float32(j%5)/5-0.4
		}
		zeros := make([]float32, s.n)
		b.Run("fused/"+s.name, func(b *testing.B) {
			e := &Epilogue{Scale: scale, Bias: bias, Act: ActSiLU}
			runBench(b, s, func(d benchData) {
				sgemmEpi(fastest, workers, s.transA, s.transB, s.m, s.n, s.k, 1, d.a, d.lda, d.b, d.ldb, 0, d.c, d.ldc, e)
			})
		})
		b.Run("separate/"+s.name, func(b *testing.B) {
			var c []float32
			passes := func(lo, hi int) {
				x := c[lo*s.n : hi*s.n]
				vmath.NormRows(x, x, zeros, scale, bias)
				vmath.SiLU(x, nil, x)
			}
			runBench(b, s, func(d benchData) {
				sgemm(fastest, workers, s.transA, s.transB, s.m, s.n, s.k, 1, d.a, d.lda, d.b, d.ldb, 0, d.c, d.ldc)
				c = d.c
				parallel.For(s.m, 64, passes)
			})
		})
	}
}
