package depthwise

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// epilogueCase is a random epilogue for a shape: each part present or
// not, so that every combination comes up over the test's cases.
func epilogueCase(rnd *rand.Rand, s *Shape) Epilogue {
	var e Epilogue
	if rnd.IntN(2) == 0 {
		e.Scale = randSlice(rnd, s.C)
	}
	if rnd.IntN(2) == 0 {
		e.Bias = randSlice(rnd, s.C)
	}
	if rnd.IntN(2) == 0 {
		e.Act = ActSiLU
	}
	if rnd.IntN(2) == 0 {
		e.ChanSum = make([]float32, s.N*s.C)
	}
	return e
}

// checkEpilogue runs e over the rows of c in up to three ranges, each with
// partial ChanSum of its own that are added afterwards, as
// concurrent callers must, and compares everything with a float64
// reference of the convolution and the epilogue.
//
// Tolerances, per element: the convolution output pre is within
// ePre = (terms+1)·u·Σ|terms| + u·|pre| (the bound of requireClose);
// z = pre·scale + bias adds |scale|·ePre and two roundings, 2u·(|pre·scale|
// + |bias|); SiLU's slope is at most 1.1 in magnitude and vmath.SiLU is
// within 2.7 ulp (≤ 6u·|y|). A channel sum over n values is within
// Σ eY + n'·u·Σ|y|, with n' the OW row terms, the OH rows and the three
// partials added in turn.
func checkEpilogue(t *testing.T, ks *kernels, rnd *rand.Rand, c case_, e Epilogue) {
	t.Helper()
	s := c.s
	C := s.C
	name := fmt.Sprintf("%s/%v scale=%t bias=%t act=%d sums=%t", ks.name, &s,
		e.Scale != nil, e.Bias != nil, e.Act, e.ChanSum != nil)
	ref := c.reference()
	const u = 1.0 / (1 << 24)

	out := nan32(len(ref.out))
	rows := s.N * s.OH
	cuts := []int{0, rnd.IntN(rows + 1), rows}
	if cuts[1] > cuts[2] {
		cuts[1] = cuts[2]
	}
	cuts = append(cuts[:2], max(cuts[1], rnd.IntN(rows+1)), rows)
	chanSum := make([]float64, s.N*C)
	for i := 0; i+1 < len(cuts); i++ {
		part := e
		if e.ChanSum != nil {
			part.ChanSum = make([]float32, s.N*C)
		}
		s.forward(ks, out, c.x, c.wt, &part, cuts[i], cuts[i+1])
		for j, v := range part.ChanSum {
			chanSum[j] += float64(v)
		}
	}

	wantSum := make([]float64, s.N*C)
	sumTol := make([]float64, s.N*C)
	sumMag := make([]float64, s.N*C)
	for i, pre := range ref.out {
		ch, b := i%C, i/(s.OH*s.OW*C)
		ePre := float64(ref.outTerms+1)*u*ref.outMag[i] + u*math.Abs(pre)
		sc, bi := 1.0, 0.0
		if e.Scale != nil {
			sc = float64(e.Scale[ch])
		}
		if e.Bias != nil {
			bi = float64(e.Bias[ch])
		}
		z := pre*sc + bi
		eY := math.Abs(sc)*ePre + 2*u*(math.Abs(pre*sc)+math.Abs(bi))
		y := z
		if e.Act == ActSiLU {
			y = z / (1 + math.Exp(-z))
			eY = 1.1*eY + 6*u*math.Abs(y)
		}
		if d := math.Abs(float64(out[i]) - y); d > eY || math.IsNaN(float64(out[i])) {
			require.Failf(t, name+" output mismatch", "element %d: got %v, want %v (tolerance %g)", i, out[i], y, eY)
		}
		wantSum[b*C+ch] += y
		sumTol[b*C+ch] += eY
		sumMag[b*C+ch] += math.Abs(y)
	}
	if e.ChanSum != nil {
		n := float64(s.OW + s.OH + 3)
		for j := range wantSum {
			require.InDelta(t, wantSum[j], chanSum[j], sumTol[j]+n*u*sumMag[j]+1e-30, "%s channel sum %d", name, j)
		}
	}
}

func TestEpilogueAgainstReference(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 10))
	for _, ks := range available() {
		for iter := 0; iter < 400; iter++ {
			k := []int{1, 3, 5, 7}[rnd.IntN(4)]
			C := 1 + rnd.IntN(70)
			var c case_
			if iter%4 == 0 {
				c = randomCaseWidth(rnd, C, k, 1+rnd.IntN(2), false, 14, 40)
			} else {
				c = randomCase(rnd, C, k, 1+rnd.IntN(2), false)
			}
			checkEpilogue(t, ks, rnd, c, epilogueCase(rnd, &c.s))
		}
	}
}

// TestEpilogueNilIsForward checks that a nil or empty epilogue leaves the
// output exactly as Forward computes it.
func TestEpilogueNilIsForward(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 12))
	c := randomCaseWidth(rnd, 37, 3, 1, false, 14, 30)
	s := c.s
	want := make([]float32, s.N*s.OH*s.OW*s.C)
	s.Forward(want, c.x, c.wt, nil, 0, s.N*s.OH)
	for _, e := range []*Epilogue{nil, {}} {
		got := nan32(len(want))
		s.ForwardEpilogue(got, c.x, c.wt, e, 0, s.N*s.OH)
		require.Equal(t, want, got)
	}
}

func TestEpilogueAllocs(t *testing.T) {
	rnd := rand.New(rand.NewPCG(13, 14))
	c := randomCaseWidth(rnd, 40, 5, 1, false, 20, 30)
	s := c.s
	e := Epilogue{Scale: randSlice(rnd, s.C), Bias: randSlice(rnd, s.C), Act: ActSiLU, ChanSum: make([]float32, s.N*s.C)}
	out := make([]float32, s.N*s.OH*s.OW*s.C)
	allocs := testing.AllocsPerRun(10, func() {
		s.ForwardEpilogue(out, c.x, c.wt, &e, 0, s.N*s.OH)
	})
	require.Zero(t, allocs)
}

func TestEpilogueShortSlicePanics(t *testing.T) {
	s := Shape{N: 2, H: 4, W: 4, C: 8, K: 3, Stride: 1, PadT: 1, PadL: 1, OH: 4, OW: 4}
	x := make([]float32, 2*4*4*8)
	out := make([]float32, len(x))
	wt := make([]float32, 9*8)
	for _, e := range []Epilogue{
		{Scale: make([]float32, 7)},
		{Bias: make([]float32, 7)},
		{ChanSum: make([]float32, 8)}, // one sample's worth of two
		{Act: Act(7)},
	} {
		require.Panics(t, func() { s.ForwardEpilogue(out, x, wt, &e, 0, 8) })
	}
}

// ExampleShape_ForwardEpilogue runs a 3×3 convolution of ones over a 4×4
// map of ones (padding 1) in two blocks of rows, as two workers would,
// each summing its channels into a partial of its own. The outputs count
// the taps inside the map, 100 over the 16 pixels; halved plus one they
// sum to 66.
func ExampleShape_ForwardEpilogue() {
	s := Shape{N: 1, H: 4, W: 4, C: 2, K: 3, Stride: 1, PadT: 1, PadL: 1, OH: 4, OW: 4}
	x := make([]float32, 4*4*2)
	wt := make([]float32, 9*2)
	for i := range x {
		x[i] = 1
	}
	for i := range wt {
		wt[i] = 1
	}
	out := make([]float32, len(x))
	e := Epilogue{Scale: []float32{0.5, 0.5}, Bias: []float32{1, 1}}
	var sums [2][2]float32 // one partial per block of rows
	for blk := range 2 {
		part := e
		part.ChanSum = sums[blk][:]
		s.ForwardEpilogue(out, x, wt, &part, blk*2, blk*2+2)
	}
	fmt.Println(sums[0][0]+sums[1][0], sums[0][1]+sums[1][1])
	// Output: 66 66
}
