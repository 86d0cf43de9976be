package layers

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/tensor"
)

func TestSqueezeExciteGradients(t *testing.T) {
	for _, act := range []Activation{SiLU, ReLU} {
		t.Run(act.String(), func(t *testing.T) {
			s := NewSqueezeExcite[float64](6, 3, act)
			ncFillParams(s, 31)
			checkLayerGrads(t, s, ncRandn(32, 1, 2, 3, 4, 6), Train)
		})
	}
}

func TestSqueezeExciteMatchesPyTorch(t *testing.T) {
	s := NewSqueezeExcite[float64](16, 4, SiLU)
	// PyTorch's 1×1 conv weights [out, in, 1, 1] are the [out, in] data.
	s.Reduce.Weight.Value.CopyFrom(ref(t, "se.fc1.weight"))
	s.Reduce.Bias.Value.CopyFrom(ref(t, "se.fc1.bias"))
	s.Expand.Weight.Value.CopyFrom(ref(t, "se.fc2.weight"))
	s.Expand.Bias.Value.CopyFrom(ref(t, "se.fc2.bias"))
	y, err := s.Forward(refNHWC(t, "se.input"), Train)
	require.NoError(t, err)
	requireClose(t, "se output", refNHWC(t, "se.output").Data, y.Data, refTol)
	dx, err := s.Backward(refNHWC(t, "se.grad_output"))
	require.NoError(t, err)
	requireClose(t, "se grad_input", refNHWC(t, "se.grad_input").Data, dx.Data, refTol)
	requireClose(t, "se fc1 grad_weight", ref(t, "se.fc1.grad_weight").Data, s.Reduce.Weight.Grad.Data, refTol)
	requireClose(t, "se fc1 grad_bias", ref(t, "se.fc1.grad_bias").Data, s.Reduce.Bias.Grad.Data, refTol)
	requireClose(t, "se fc2 grad_weight", ref(t, "se.fc2.grad_weight").Data, s.Expand.Weight.Grad.Data, refTol)
	requireClose(t, "se fc2 grad_bias", ref(t, "se.fc2.grad_bias").Data, s.Expand.Bias.Grad.Data, refTol)
}

func TestSqueezeExciteParams(t *testing.T) {
	s := NewSqueezeExcite[float64](16, 4, SiLU)
	var names []string
	var shapes [][]int
	for _, p := range s.Params() {
		names = append(names, p.Name)
		shapes = append(shapes, p.Value.Shape)
	}
	assert.Equal(t, []string{"reduce.weight", "reduce.bias", "expand.weight", "expand.bias"}, names)
	assert.Equal(t, [][]int{{4, 16}, {4}, {16, 4}, {16}}, shapes)
	assert.Same(t, s.Reduce.Weight, s.Params()[0], "the sublayer's own Param, not a copy")
}

// A map big enough for the parallel loops must give bit-identical results
// to a run on one goroutine: each output element is computed by the same
// operations whichever goroutine owns it.
func TestSqueezeExciteParallelMatchesSerial(t *testing.T) {
	run := func(procs int) (y, dx, dw []float64) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		s := NewSqueezeExcite[float64](32, 8, SiLU)
		ncFillParams(s, 33)
		out, err := s.Forward(ncRandn(34, 1, 3, 32, 32, 32), Train)
		require.NoError(t, err)
		g, err := s.Backward(ncRandn(35, 1, 3, 32, 32, 32))
		require.NoError(t, err)
		return out.Data, g.Data, s.Reduce.Weight.Grad.Data
	}
	y1, dx1, dw1 := run(1)
	y4, dx4, dw4 := run(4)
	assert.Equal(t, y1, y4)
	assert.Equal(t, dx1, dx4)
	assert.Equal(t, dw1, dw4)
}

func TestSqueezeExciteErrors(t *testing.T) {
	s := NewSqueezeExcite[float64](16, 4, SiLU)
	_, err := s.Forward(tensor.New[float64](2, 6, 6, 15), Train)
	var se *ShapeError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "SqueezeExcite(16→4, SiLU): input has shape [2 6 6 15], want [N H W 16] with H·W > 0", err.Error())

	_, err = s.Forward(tensor.New[float64](2, 6, 6, 16), Eval)
	require.NoError(t, err)
	_, err = s.Backward(tensor.New[float64](2, 6, 6, 16))
	require.ErrorContains(t, err, "SqueezeExcite(16→4, SiLU): Backward called without a preceding Forward in Train mode")

	_, err = s.Forward(tensor.New[float64](2, 6, 6, 16), Train)
	require.NoError(t, err)
	_, err = s.Backward(tensor.New[float64](2, 6, 5, 16))
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "SqueezeExcite(16→4, SiLU): gradient has shape [2 6 5 16], want [2 6 6 16]", err.Error())
}

func TestSqueezeExciteAllocations(t *testing.T) {
	// 2·8·8·64 = 8192 elements, below ewGrain: every loop runs on the
	// calling goroutine, and the layer must not allocate once warm.
	s := NewSqueezeExcite[float32](64, 16, SiLU)
	x := tensor.New[float32](2, 8, 8, 64)
	allocs := allocsAfterWarmup(t, s, x, x.Clone())
	// GEMM keeps workspaces in a sync.Pool, which the race detector
	// empties at random on purpose; only then is anything allowed, namely
	// what the two Linear layers allocate alone plus 3 for that noise.
	linear := allocsAfterWarmup(t, NewSequential[float32](s.Reduce, s.Expand), tensor.New[float32](2, 64), tensor.New[float32](2, 64))
	allowed := 0.0
	if linear > 0 {
		allowed = linear + 3
	}
	assert.LessOrEqual(t, allocs, allowed, "Linear layers alone: %v", linear)
}

// testing.AllocsPerRun pins GOMAXPROCS to 1, which would hide the
// parallel path; this counts mallocs of a warm Forward+Backward directly.
func mallocsPerStep[T Float](t *testing.T, l Layer[T], x, dy *Tensor[T]) float64 {
	t.Helper()
	step := func() {
		_, err := l.Forward(x, Train)
		require.NoError(t, err)
		_, err = l.Backward(dy)
		require.NoError(t, err)
	}
	step()
	const runs = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		step()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / runs
}

// With the parallel path taken, a warm Forward+Backward allocates nothing:
// parallel.For runs on a persistent pool and the layer's loop bodies are
// method values made once. The only allocations left are GEMM workspaces
// refilled after a garbage collection empties their sync.Pool, at most a
// few over all runs, so the average stays below one per step, while any
// per-call allocation (one or more every step) fails. Under the race
// detector sync.Pool drops entries at random on purpose, so there the
// bound is what the two Linear layers allocate alone, plus 3.
func TestSqueezeExciteAllocationsParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	s := NewSqueezeExcite[float32](64, 16, SiLU)
	x := tensor.New[float32](4, 32, 32, 64)
	allocs := mallocsPerStep(t, s, x, x.Clone())
	t.Logf("SqueezeExcite [4 32 32 64] Forward+Backward, GOMAXPROCS=2: %v allocations per step", allocs)
	if convRaceEnabled() {
		linear := NewSequential[float32](s.Reduce, s.Expand)
		linearAllocs := mallocsPerStep(t, linear, tensor.New[float32](4, 64), tensor.New[float32](4, 64))
		assert.LessOrEqual(t, allocs, linearAllocs+3)
		return
	}
	assert.Less(t, allocs, 1.0)
}

// BenchmarkSqueezeExcite runs float32 SE Forward+Backward on an
// EfficientNet-B0 stage-4 map (batch 8, 28×28, 240 channels, squeeze 10).
func BenchmarkSqueezeExcite(b *testing.B) {
	s := NewSqueezeExcite[float32](240, 10, SiLU)
	x := tensor.New[float32](8, 28, 28, 240)
	for i := range x.Data {
		x.Data[i] = float32(i%13)/6 - 1
	}
	dy := x.Clone()
	b.SetBytes(int64(4 * x.Len()))
	for b.Loop() {
		if _, err := s.Forward(x, Train); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Backward(dy); err != nil {
			b.Fatal(err)
		}
	}
}

// The float32 loops run on chanops' vector kernels (per-sample scaling,
// channel dot products, the input gradient's multiply-add); compare a
// float32 layer with the float64 one on the same numbers, at a size that
// takes the parallel paths (2048 rows, 8 samples) and with 37 channels
// (vectors plus a ragged tail). float32 rounds at u = 2⁻²⁴ ≈ 6e-8; the
// longest sums on the way are the pool and the gate gradient over
// H·W = 256 pixels and the Linear layers over 37 inputs, each within
// (n+1)·u of its sum of magnitudes, and the sigmoid and SiLU are within a
// few ulp, so every result is within about 300·u ≈ 1.8e-5 of the
// magnitudes involved (at most a few for these N(0, 1) inputs and
// N(0, 0.25) weights). 1e-4·(1 + max|want|) leaves a margin of several
// times that, while a loop that took a wrong sample or channel would be
// off at order one.
func TestSqueezeExciteFloat32MatchesFloat64(t *testing.T) {
	s64 := NewSqueezeExcite[float64](37, 9, SiLU)
	ncFillParams(s64, 33)
	s32 := NewSqueezeExcite[float32](37, 9, SiLU)
	for i, p := range s32.Params() {
		p.Value.CopyFrom(tensor.Convert[float32](s64.Params()[i].Value))
	}
	x64, dy64 := ncRandn(34, 1, 8, 16, 16, 37), ncRandn(35, 1, 8, 16, 16, 37)
	y64, err := s64.Forward(x64, Train)
	require.NoError(t, err)
	y32, err := s32.Forward(tensor.Convert[float32](x64), Train)
	require.NoError(t, err)
	dx64, err := s64.Backward(dy64)
	require.NoError(t, err)
	dx32, err := s32.Backward(tensor.Convert[float32](dy64))
	require.NoError(t, err)
	close32 := func(what string, want []float64, got []float32) {
		t.Helper()
		scale := 0.0
		for _, v := range want {
			scale = math.Max(scale, math.Abs(v))
		}
		for i, v := range want {
			require.InDelta(t, v, got[i], 1e-4*(1+scale), "%s element %d", what, i)
		}
	}
	close32("output", y64.Data, y32.Data)
	close32("input gradient", dx64.Data, dx32.Data)
	for i, p := range s64.Params() {
		close32(p.Name+" gradient", p.Grad.Data, s32.Params()[i].Grad.Data)
	}
}

// BenchmarkSqueezeExciteEval runs the float32 Eval forward pass (pool,
// gate, scaling) on B0 stage maps at batch 8.
func BenchmarkSqueezeExciteEval(b *testing.B) {
	for _, shape := range [][4]int{{8, 112, 112, 32}, {8, 28, 28, 240}, {8, 7, 7, 1152}} {
		c := shape[3]
		s := NewSqueezeExcite[float32](c, max(1, c/24), SiLU)
		x := tensor.New[float32](shape[:]...)
		for i := range x.Data {
			x.Data[i] = float32(i%13)/6 - 1
		}
		b.Run(fmt.Sprintf("%dx%dx%d", shape[1], shape[2], c), func(b *testing.B) {
			b.SetBytes(int64(4 * x.Len()))
			for b.Loop() {
				if _, err := s.Forward(x, Eval); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
