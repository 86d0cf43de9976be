package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// epiCase is one epilogue configuration of the tests.
type epiCase struct {
	scale, bias, residual bool
	act                   Act
}

func (c epiCase) String() string {
	return fmt.Sprintf("scale=%v bias=%v act=%d residual=%v", c.scale, c.bias, c.act, c.residual)
}

// newEpilogue builds the epilogue of c for an m×n×k product with leading
// dimension ldc. The sums start away from zero so that += is checked.
func newEpilogue(rnd *rand.Rand, c epiCase, m, n, k, ldc int) *Epilogue {
	e := &Epilogue{Act: c.act}
	vec := func() []float32 { return normals(rnd, n) }
	if c.scale {
		e.Scale = vec()
	}
	if c.bias {
		e.Bias = vec()
	}
	if c.residual && m > 0 && n > 0 {
		e.Residual = make([]float32, (m-1)*ldc+n)
		for i := range e.Residual {
			e.Residual[i] = float32(rnd.NormFloat64())
		}
	}
	return e
}

// checkEpilogueCall runs sgemmEpi with e and compares it with sgemm (same
// kernel and workers, hence the same product bit for bit) followed by the
// epilogue in float64. With y = p·scale + bias computed from the float32
// product p, each element must be within
//
//	16·2⁻²⁴ · (|p·scale| + |bias| + |residual|)
//
// of act(y) + residual: NormRows rounds p·scale and the sum (2⁻²⁴ of each
// magnitude), SiLU's slope is below 1.1 so it carries that error on, and
// vmath's SiLU adds at most 4 ulp = 8·2⁻²⁴ of its result (vmath's tests);
// the residual add rounds once more. The total stays below 13·2⁻²⁴ of the
// magnitudes, while a wrong column, row or block gives errors of the order
// of the values themselves.
func checkEpilogueCall(t *testing.T, kern *microKernel, workers int, p problem, ec epiCase, rnd *rand.Rand) {
	t.Helper()
	e := newEpilogue(rnd, ec, p.m, p.n, p.k, p.ldc)
	res0 := append([]float32(nil), e.Residual...)
	got := append([]float32(nil), p.c...)
	sgemmEpi(kern, workers, p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, got, p.ldc, e)
	prod := append([]float32(nil), p.c...)
	sgemm(kern, workers, p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, prod, p.ldc)

	what := fmt.Sprintf("%s %s kernel=%s workers=%d", p, ec, kern.name, workers)
	require.Equal(t, res0, e.Residual, "%s: residual changed", what)
	for i := range p.m {
		for j := range p.n {
			idx := i*p.ldc + j
			pv := float64(prod[idx])
			s, b, r := 1.0, 0.0, 0.0
			if e.Scale != nil {
				s = float64(e.Scale[j])
			}
			if e.Bias != nil {
				b = float64(e.Bias[j])
			}
			if e.Residual != nil {
				r = float64(e.Residual[idx])
			}
			y := pv*s + b
			if e.Act == ActSiLU {
				y = y / (1 + math.Exp(-y))
			}
			want := y + r
			tol := 16 * 0x1p-24 * (math.Abs(pv*s) + math.Abs(b) + math.Abs(r))
			g := float64(got[idx])
			if math.IsNaN(g) || math.Abs(g-want) > tol {
				require.Failf(t, "wrong element", "%s: c[%d,%d] = %v, want %v ± %v", what, i, j, g, want, tol)
			}
		}
		for j := p.n; j < p.ldc && i < p.m-1; j++ {
			idx := i*p.ldc + j
			require.Equal(t, math.Float32bits(p.c[idx]), math.Float32bits(got[idx]), "%s: padding c[%d] written", what, idx)
		}
	}
}

var epiCases = []epiCase{
	{scale: true, bias: true, act: ActSiLU},
	{scale: true, bias: true},
	{bias: true, act: ActSiLU, residual: true},
	{scale: true, residual: true},
	{act: ActSiLU},
	{scale: true, bias: true, act: ActSiLU, residual: true},
}

// TestEpilogueSmall covers every transpose and edge shape serially with
// every kernel.
func TestEpilogueSmall(t *testing.T) {
	rnd := rand.New(rand.NewPCG(21, 22))
	dims := []int{1, 3, 7, 12, 13, 16, 17, 32, 33, 47}
	for _, kern := range kernels() {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for range 12 {
					m := dims[rnd.IntN(len(dims))]
					n := dims[rnd.IntN(len(dims))]
					k := dims[rnd.IntN(len(dims))]
					p := newProblem(rnd, tA, tB, m, n, k, 1, 0, 3)
					checkEpilogueCall(t, kern, 1, p, epiCases[rnd.IntN(len(epiCases))], rnd)
				}
			}
		}
	}
}

// TestEpilogueSplits runs the epilogue under every way of sharing a product
// among workers, with shapes that span several blocks.
func TestEpilogueSplits(t *testing.T) {
	rnd := rand.New(rand.NewPCG(23, 24))
	type shape struct{ m, n, k int }
	shapes := []shape{
		{300, 70, 600},  // several k blocks and row blocks
		{37, 2100, 20},  // several column blocks
		{700, 40, 64},   // split M
		{12, 300, 200},  // split N
		{12, 16, 5000},  // split K
		{24, 40, 3000},  // split K with 3 workers
		{97, 130, 517},  // odd everything
		{6000, 24, 96},  // split M dynamically
		{150, 97, 0},    // k = 0: the epilogue of a zero product
		{392, 192, 600}, // a B0 forward shape, reduced
	}
	seen := map[splitKind]bool{}
	for _, kern := range kernels() {
		for _, sh := range shapes {
			for _, workers := range []int{1, 2, 3} {
				tA, tB := rnd.IntN(2) == 0, rnd.IntN(2) == 0
				p := newProblem(rnd, tA, tB, sh.m, sh.n, sh.k, 1, 0, 5)
				if sh.k > 0 {
					split, _ := chooseSplit(kern, workers, sh.m, sh.n, sh.k)
					seen[split] = true
				}
				checkEpilogueCall(t, kern, workers, p, epiCases[rnd.IntN(len(epiCases))], rnd)
			}
		}
	}
	for _, s := range []splitKind{splitNone, splitM, splitMDynamic, splitN, splitK} {
		require.True(t, seen[s], "split %d never exercised", s)
	}
}

// TestEpilogueAlphaBeta: the epilogue applies to the final C whatever
// alpha and beta produced it (GemmEpilogue uses 1 and 0 only).
func TestEpilogueAlphaBeta(t *testing.T) {
	rnd := rand.New(rand.NewPCG(25, 26))
	for _, s := range scalars {
		for _, workers := range []int{1, 2} {
			p := newProblem(rnd, false, true, 200, 50, 700, s[0], s[1], 2)
			checkEpilogueCall(t, fastest, workers, p, epiCases[len(epiCases)-1], rnd)
		}
	}
}

// TestGemmEpilogue goes through the exported entry point: a nil epilogue is
// Gemm, and a 1×1 convolution with folded batch normalisation, SiLU and a
// skip connection matches its unfused passes.
func TestGemmEpilogue(t *testing.T) {
	rnd := rand.New(rand.NewPCG(29, 30))
	p := newProblem(rnd, false, true, 500, 48, 96, 1, 0, 0)
	plain := make([]float32, len(p.c))
	Gemm(false, true, p.m, p.n, p.k, 1, p.a, p.lda, p.b, p.ldb, 0, plain, p.ldc)
	fused := append([]float32(nil), p.c...) // NaN: C must not be read
	GemmEpilogue(false, true, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, fused, p.ldc, nil)
	require.Equal(t, plain, fused)
	checkEpilogueCall(t, fastest, 2, p, epiCases[len(epiCases)-1], rnd)

	e := newEpilogue(rnd, epiCases[len(epiCases)-1], p.m, p.n, p.k, p.ldc)
	GemmEpilogue(false, true, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, fused, p.ldc, e)
	require.False(t, math.IsNaN(float64(fused[0])))
}

func TestGemmEpiloguePanics(t *testing.T) {
	a, b, c := make([]float32, 6), make([]float32, 6), make([]float32, 4)
	call := func(e *Epilogue) func() {
		return func() { GemmEpilogue(false, false, 2, 2, 3, a, 3, b, 2, c, 2, e) }
	}
	require.NotPanics(t, call(&Epilogue{Scale: make([]float32, 2)}))
	require.Panics(t, call(&Epilogue{Scale: make([]float32, 3)}))
	require.Panics(t, call(&Epilogue{Bias: make([]float32, 1)}))
	require.Panics(t, call(&Epilogue{Residual: make([]float32, 3)}))
	require.Panics(t, call(&Epilogue{Act: 7}))
}

// TestEpilogueSteadyStateAllocs: once warm, a call with every epilogue step
// allocates nothing, serial or parallel.
func TestEpilogueSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	rnd := rand.New(rand.NewPCG(31, 32))
	p := newProblem(rnd, false, true, 600, 96, 64, 1, 0, 0)
	e := newEpilogue(rnd, epiCases[len(epiCases)-1], p.m, p.n, p.k, p.ldc)
	for _, workers := range []int{1, 2} {
		allocs := testing.AllocsPerRun(20, func() {
			sgemmEpi(fastest, workers, false, true, p.m, p.n, p.k, 1, p.a, p.lda, p.b, p.ldb, 0, p.c, p.ldc, e)
		})
		// A GC emptying the pools during the run may add a refill.
		require.LessOrEqual(t, allocs, 1.0, "workers=%d", workers)
	}
}
