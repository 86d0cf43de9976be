package depthwise

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// case_ is one random convolution with its operands.
type case_ struct {
	s           Shape
	x, wt, bias []float32
	dy          []float32
	padB, padR  int
}

// randomCase draws a shape with the given channels, kernel and stride and
// random input size and padding, including paddings of a whole kernel
// (rows that see no input at all) and inputs smaller than the kernel.
func randomCase(rnd *rand.Rand, C, k, stride int, bias bool) case_ {
	return randomCaseWidth(rnd, C, k, stride, bias, 1, 13)
}

// randomCaseWidth is randomCase with the input width drawn from [w0, w1].
func randomCaseWidth(rnd *rand.Rand, C, k, stride int, bias bool, w0, w1 int) case_ {
	var c case_
	s := Shape{N: 1 + rnd.IntN(2), H: 1 + rnd.IntN(13), W: w0 + rnd.IntN(w1-w0+1), C: C, K: k, Stride: stride}
	switch rnd.IntN(3) {
	case 0: // PyTorch symmetric
		s.PadT, s.PadL, c.padB, c.padR = k/2, k/2, k/2, k/2
	case 1: // TensorFlow SAME
		padH := max(0, ((s.H+stride-1)/stride-1)*stride+k-s.H)
		padW := max(0, ((s.W+stride-1)/stride-1)*stride+k-s.W)
		s.PadT, s.PadL, c.padB, c.padR = padH/2, padW/2, padH-padH/2, padW-padW/2
	default:
		s.PadT, s.PadL, c.padB, c.padR = rnd.IntN(k+1), rnd.IntN(k+1), rnd.IntN(k+1), rnd.IntN(k+1)
	}
	if s.H+s.PadT+c.padB < k {
		c.padB = k - s.H - s.PadT
	}
	if s.W+s.PadL+c.padR < k {
		c.padR = k - s.W - s.PadL
	}
	s.OH = (s.H+s.PadT+c.padB-k)/stride + 1
	s.OW = (s.W+s.PadL+c.padR-k)/stride + 1
	c.s = s
	c.x = randSlice(rnd, s.N*s.H*s.W*C)
	c.wt = randSlice(rnd, k*k*C)
	if bias {
		c.bias = randSlice(rnd, C)
	}
	c.dy = randSlice(rnd, s.N*s.OH*s.OW*C)
	return c
}

func randSlice(rnd *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rnd.Float64()*2 - 1)
	}
	return v
}

// reference computes the forward output, input gradient and weight
// gradient in float64 by the definition, with the sums of absolute terms
// that bound float32 rounding errors, and the number of terms per sum.
type reference struct {
	out, outMag, dx, dxMag, dw, dwMag []float64
	outTerms, dxTerms, dwTerms        int
}

func (c *case_) reference() reference {
	s := c.s
	C, k := s.C, s.K
	r := reference{
		out: make([]float64, s.N*s.OH*s.OW*C), outMag: make([]float64, s.N*s.OH*s.OW*C),
		dx: make([]float64, s.N*s.H*s.W*C), dxMag: make([]float64, s.N*s.H*s.W*C),
		dw: make([]float64, k*k*C), dwMag: make([]float64, k*k*C),
		outTerms: k*k + 1, dxTerms: k * k, dwTerms: s.N * s.OH * s.OW,
	}
	for b := 0; b < s.N; b++ {
		for oy := 0; oy < s.OH; oy++ {
			for ox := 0; ox < s.OW; ox++ {
				o := ((b*s.OH+oy)*s.OW + ox) * C
				for ch := 0; ch < C; ch++ {
					if c.bias != nil {
						r.out[o+ch] = float64(c.bias[ch])
						r.outMag[o+ch] = math.Abs(float64(c.bias[ch]))
					}
				}
				for ky := 0; ky < k; ky++ {
					iy := oy*s.Stride - s.PadT + ky
					for kx := 0; kx < k; kx++ {
						ix := ox*s.Stride - s.PadL + kx
						if iy < 0 || iy >= s.H || ix < 0 || ix >= s.W {
							continue
						}
						i := ((b*s.H+iy)*s.W + ix) * C
						t := (ky*k + kx) * C
						for ch := 0; ch < C; ch++ {
							xv, wv, dv := float64(c.x[i+ch]), float64(c.wt[t+ch]), float64(c.dy[o+ch])
							r.out[o+ch] += xv * wv
							r.outMag[o+ch] += math.Abs(xv * wv)
							r.dx[i+ch] += dv * wv
							r.dxMag[i+ch] += math.Abs(dv * wv)
							r.dw[t+ch] += dv * xv
							r.dwMag[t+ch] += math.Abs(dv * xv)
						}
					}
				}
			}
		}
	}
	return r
}

// requireClose checks got against want within the classic bound for
// recursive float32 summation, n·u·Σ|terms| with u = 2⁻²⁴ (Higham,
// Accuracy and Stability of Numerical Algorithms, §4.2), plus one rounding
// of the result; FMA only rounds less often.
func requireClose(t *testing.T, what string, got []float32, want, mag []float64, n int) {
	t.Helper()
	const u = 1.0 / (1 << 24)
	for i := range want {
		tol := float64(n+1)*u*mag[i] + u*math.Abs(want[i])
		if d := math.Abs(float64(got[i]) - want[i]); d > tol || math.IsNaN(float64(got[i])) {
			require.Failf(t, what+" mismatch", "element %d: got %v, want %v (tolerance %g)", i, got[i], want[i], tol)
		}
	}
}

func nan32(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.NaN())
	}
	return v
}

func TestKernelsAgainstReference(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, ks := range available() {
		for C := 1; C <= 70; C++ {
			for _, k := range []int{1, 3, 5} {
				for stride := 1; stride <= 2; stride++ {
					c := randomCase(rnd, C, k, stride, rnd.IntN(2) == 0)
					s := c.s
					name := fmt.Sprintf("%s/%v", ks.name, &s)
					ref := c.reference()

					// Outputs start as NaN, so that any element the
					// kernels fail to write shows up.
					out := nan32(len(ref.out))
					rows := s.N * s.OH
					split := rnd.IntN(rows + 1)
					forwardBias(ks, &s, out, c.x, c.wt, c.bias, 0, split)
					forwardBias(ks, &s, out, c.x, c.wt, c.bias, split, rows)
					requireClose(t, name+" forward", out, ref.out, ref.outMag, ref.outTerms)

					dx := nan32(len(ref.dx))
					rows = s.N * s.H
					split = rnd.IntN(rows + 1)
					s.inputGrad(ks, dx, c.dy, c.wt, 0, split)
					s.inputGrad(ks, dx, c.dy, c.wt, split, rows)
					requireClose(t, name+" input gradient", dx, ref.dx, ref.dxMag, ref.dxTerms)

					dw := make([]float32, len(ref.dw))
					db := make([]float32, C)
					rows = s.N * s.OH
					split = rnd.IntN(rows + 1)
					s.weightGrad(ks, dw, db, c.x, c.dy, 0, split)
					s.weightGrad(ks, dw, db, c.x, c.dy, split, rows)
					requireClose(t, name+" weight gradient", dw, ref.dw, ref.dwMag, ref.dwTerms)
					for ch := 0; ch < C; ch++ {
						var sum, mag float64
						for p := 0; p < s.N*s.OH*s.OW; p++ {
							sum += float64(c.dy[p*C+ch])
							mag += math.Abs(float64(c.dy[p*C+ch]))
						}
						const u = 1.0 / (1 << 24)
						require.InDelta(t, sum, db[ch], float64(s.N*s.OH*s.OW+1)*u*mag, name+" bias gradient")
					}
				}
			}
		}
	}
}

// TestWideRows covers rows long enough for the row kernels' largest pixel
// groups (16 and 14) and several of them, at channel counts around the
// vector width and the channel chunk, in the forward pass and the input
// gradient (the flipped row kernels at stride 1), with the tolerance of
// TestKernelsAgainstReference.
func TestWideRows(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	for _, ks := range available() {
		for _, C := range []int{1, 7, 8, 9, 16, 17, 31, 64, 65, 100} {
			for _, k := range []int{3, 5} {
				for stride := 1; stride <= 2; stride++ {
					c := randomCaseWidth(rnd, C, k, stride, rnd.IntN(2) == 0, 14, 72)
					s := c.s
					ref := c.reference()
					out := nan32(len(ref.out))
					forwardBias(ks, &s, out, c.x, c.wt, c.bias, 0, s.N*s.OH)
					requireClose(t, fmt.Sprintf("%s/%v forward", ks.name, &s), out, ref.out, ref.outMag, ref.outTerms)
					dx := nan32(len(ref.dx))
					s.inputGrad(ks, dx, c.dy, c.wt, 0, s.N*s.H)
					requireClose(t, fmt.Sprintf("%s/%v input gradient", ks.name, &s), dx, ref.dx, ref.dxMag, ref.dxTerms)
				}
			}
		}
	}
}

// TestPrefetchedRows covers inputs above prefetchBytes, where the row
// kernels prefetch the next output row's input rows (dy's rows for the
// input gradient at stride 1), with the tolerance of
// TestKernelsAgainstReference.
func TestPrefetchedRows(t *testing.T) {
	rnd := rand.New(rand.NewPCG(15, 16))
	for _, g := range []struct{ k, stride int }{{3, 1}, {5, 2}} {
		s := Shape{N: 1, H: 40, W: 40, C: 1320, K: g.k, Stride: g.stride, PadT: g.k / 2, PadL: g.k / 2}
		require.Greater(t, 4*s.N*s.H*s.W*s.C, prefetchBytes)
		s.OH = (s.H+2*s.PadT-s.K)/s.Stride + 1
		s.OW = s.OH
		c := case_{s: s, x: randSlice(rnd, s.N*s.H*s.W*s.C), wt: randSlice(rnd, s.K*s.K*s.C)}
		c.dy = randSlice(rnd, s.N*s.OH*s.OW*s.C)
		ref := c.reference()
		out := nan32(len(ref.out))
		s.Forward(out, c.x, c.wt, nil, 0, s.N*s.OH)
		requireClose(t, fmt.Sprintf("%v forward", &s), out, ref.out, ref.outMag, ref.outTerms)
		dx := nan32(len(ref.dx))
		s.InputGrad(dx, c.dy, c.wt, 0, s.N*s.H)
		requireClose(t, fmt.Sprintf("%v input gradient", &s), dx, ref.dx, ref.dxMag, ref.dxTerms)
	}
}

// TestFastMatchesFallback runs every assembly kernel and the Go kernel on
// the same calls. They differ only in rounding (FMA rounds once, Go twice,
// and the summation orders of the weight gradient's two pixel chains
// differ), so each pair must agree within twice the summation bound.
func TestFastMatchesFallback(t *testing.T) {
	ks := available()
	if len(ks) == 1 {
		t.Skip("only the Go kernel on this CPU or build")
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	for _, fast := range ks[:len(ks)-1] {
		for iter := 0; iter < 300; iter++ {
			c := randomCase(rnd, 1+rnd.IntN(70), []int{1, 3, 5, 7}[rnd.IntN(4)], 1+rnd.IntN(2), rnd.IntN(2) == 0)
			s := c.s
			name := fmt.Sprintf("%s/%v", fast.name, &s)
			ref := c.reference()
			for _, pass := range []struct {
				what       string
				n          int
				mag        []float64
				terms      int
				run        func(ks *kernels, dst []float32)
				accumulate bool
			}{
				{"forward", len(ref.out), ref.outMag, ref.outTerms, func(ks *kernels, d []float32) { forwardBias(ks, &s, d, c.x, c.wt, c.bias, 0, s.N*s.OH) }, false},
				{"input gradient", len(ref.dx), ref.dxMag, ref.dxTerms, func(ks *kernels, d []float32) { s.inputGrad(ks, d, c.dy, c.wt, 0, s.N*s.H) }, false},
				{"weight gradient", len(ref.dw), ref.dwMag, ref.dwTerms, func(ks *kernels, d []float32) { s.weightGrad(ks, d, nil, c.x, c.dy, 0, s.N*s.OH) }, true},
			} {
				a, b := nan32(pass.n), nan32(pass.n)
				if pass.accumulate {
					a, b = make([]float32, pass.n), make([]float32, pass.n)
				}
				pass.run(fast, a)
				pass.run(&goKernels, b)
				const u = 1.0 / (1 << 24)
				for i := range a {
					tol := 2 * float64(pass.terms+1) * u * pass.mag[i]
					require.InDelta(t, b[i], a[i], tol, "%s %s element %d", name, pass.what, i)
				}
			}
		}
	}
}

func TestSteadyStateAllocs(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	c := randomCase(rnd, 37, 3, 2, true)
	s := c.s
	out := make([]float32, s.N*s.OH*s.OW*s.C)
	dx := make([]float32, len(c.x))
	dw := make([]float32, len(c.wt))
	allocs := testing.AllocsPerRun(10, func() {
		s.Forward(out, c.x, c.wt, c.bias, 0, s.N*s.OH)
		s.InputGrad(dx, c.dy, c.wt, 0, s.N*s.H)
		s.WeightGrad(dw, nil, c.x, c.dy, 0, s.N*s.OH)
	})
	require.Zero(t, allocs)
}

func TestShortSlicePanics(t *testing.T) {
	s := Shape{N: 1, H: 4, W: 4, C: 8, K: 3, Stride: 1, PadT: 1, PadL: 1, OH: 4, OW: 4}
	x := make([]float32, 4*4*8)
	wt := make([]float32, 9*8)
	require.Panics(t, func() { s.Forward(make([]float32, 10), x, wt, nil, 0, 4) })
	require.Panics(t, func() { s.InputGrad(x, x[:10], wt, 0, 4) })
	require.Panics(t, func() { s.WeightGrad(wt[:10], nil, x, x, 0, 4) })
}

// forwardBias is Forward on the given kernels.
func forwardBias(ks *kernels, s *Shape, out, x, wt, bias []float32, lo, hi int) {
	if bias == nil {
		s.forward(ks, out, x, wt, nil, lo, hi)
		return
	}
	s.forward(ks, out, x, wt, &Epilogue{Bias: bias}, lo, hi)
}
