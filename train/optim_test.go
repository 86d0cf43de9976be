package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/layers"
)

// param returns a parameter holding value, with a zero gradient.
func param[T layers.Float](name string, value []T, shape ...int) *layers.Param[T] {
	v, err := tensor.FromData(append([]T(nil), value...), shape...)
	if err != nil {
		panic(err)
	}
	return &layers.Param[T]{Name: name, Value: v, Grad: tensor.New[T](shape...)}
}

// handTol is the tolerance for float64 results checked against arithmetic
// written out in the test: the two sides round differently, so allow a few
// units in the last place of numbers of order one.
const handTol = 1e-14

func TestSGDMomentumByHand(t *testing.T) {
	w := param("w", []float64{1, -2}, 1, 2) // 2-d: decayed
	b := param("b", []float64{0.5}, 1)      // 1-d: exempt with NormAndBias
	opt, err := NewSGD([]*layers.Param[float64]{w, b}, SGDConfig{Momentum: 0.9, WeightDecay: 0.01, NoDecay: NormAndBias})
	require.NoError(t, err)

	copy(w.Grad.Data, []float64{0.5, 0.25})
	b.Grad.Data[0] = 1
	require.NoError(t, opt.Step(0.1))
	// Step 1, buffers start at zero, lr 0.1, μ 0.9, λ 0.01:
	//   w0: g = 0.5  + 0.01·1    = 0.51;  buf = 0.51;  w = 1    − 0.1·0.51 = 0.949
	//   w1: g = 0.25 + 0.01·(−2) = 0.23;  buf = 0.23;  w = −2   − 0.1·0.23 = −2.023
	//   b:  g = 1 (no decay);             buf = 1;     b = 0.5  − 0.1·1    = 0.4
	assert.InDeltaSlice(t, []float64{0.949, -2.023}, w.Value.Data, handTol)
	assert.InDelta(t, 0.4, b.Value.Data[0], handTol)
	assert.Equal(t, []float64{0.5, 0.25}, w.Grad.Data, "Step must leave gradients untouched")

	require.NoError(t, opt.Step(0.1))
	// Step 2, same gradients:
	//   w0: g = 0.5 + 0.01·0.949 = 0.50949;  buf = 0.9·0.51 + 0.50949 = 0.96849
	//       w = 0.949 − 0.1·0.96849 = 0.852151
	//   w1: g = 0.25 + 0.01·(−2.023) = 0.22977;  buf = 0.9·0.23 + 0.22977 = 0.43677
	//       w = −2.023 − 0.1·0.43677 = −2.066677
	//   b:  buf = 0.9·1 + 1 = 1.9;  b = 0.4 − 0.19 = 0.21
	assert.InDeltaSlice(t, []float64{0.852151, -2.066677}, w.Value.Data, handTol)
	assert.InDelta(t, 0.21, b.Value.Data[0], handTol)

	st := opt.State()
	require.Len(t, st, 2)
	assert.Equal(t, "w.momentum_buffer", st[0].Name)
	assert.InDeltaSlice(t, []float64{0.96849, 0.43677}, st[0].Value.Data, handTol)
	assert.Equal(t, "b.momentum_buffer", st[1].Name)
	assert.InDelta(t, 1.9, st[1].Value.Data[0], handTol)
}

func TestSGDNesterovByHand(t *testing.T) {
	w := param("w", []float64{1}, 1, 1)
	opt, err := NewSGD([]*layers.Param[float64]{w}, SGDConfig{Momentum: 0.9, Nesterov: true, WeightDecay: 0.01})
	require.NoError(t, err)
	w.Grad.Data[0] = 0.5

	require.NoError(t, opt.Step(0.1))
	// g = 0.5 + 0.01·1 = 0.51;  buf = 0.51;  step direction g + μ·buf = 0.51 + 0.459 = 0.969
	// w = 1 − 0.1·0.969 = 0.9031   (plain momentum would give 1 − 0.051 = 0.949)
	assert.InDelta(t, 0.9031, w.Value.Data[0], handTol)

	require.NoError(t, opt.Step(0.1))
	// g = 0.5 + 0.01·0.9031 = 0.509031;  buf = 0.9·0.51 + 0.509031 = 0.968031
	// direction = 0.509031 + 0.9·0.968031 = 1.3802589;  w = 0.9031 − 0.13802589 = 0.76507411
	assert.InDelta(t, 0.76507411, w.Value.Data[0], handTol)
}

func TestSGDWithoutMomentumHasNoState(t *testing.T) {
	w := param("w", []float64{3}, 1)
	opt, err := NewSGD([]*layers.Param[float64]{w}, SGDConfig{})
	require.NoError(t, err)
	w.Grad.Data[0] = 2
	require.NoError(t, opt.Step(0.25))
	assert.Equal(t, 2.5, w.Value.Data[0]) // 3 − 0.25·2, exact in binary
	assert.Empty(t, opt.State())
	require.NoError(t, opt.LoadState(nil))
}

func TestRMSPropByHand(t *testing.T) {
	w := param("w", []float64{1}, 1, 1)
	opt, err := NewRMSProp([]*layers.Param[float64]{w}, RMSPropConfig{Decay: 0.9, Momentum: 0.9, Epsilon: 1e-3})
	require.NoError(t, err)
	w.Grad.Data[0] = 0.5

	require.NoError(t, opt.Step(0.1))
	// ms starts at ONE:  ms = 1 + 0.1·(0.25 − 1) = 0.925
	// buf = 0.9·0 + 0.1·0.5/sqrt(0.925 + 0.001) = 0.05/sqrt(0.926)
	// w = 1 − buf
	buf1 := 0.05 / math.Sqrt(0.926)
	assert.InDelta(t, 1-buf1, w.Value.Data[0], handTol)
	assert.InDelta(t, 0.948040, w.Value.Data[0], 1e-6) // the same number, as a reader would see it

	require.NoError(t, opt.Step(0.2)) // a new rate: TF folds it into the buffer
	// ms = 0.925 + 0.1·(0.25 − 0.925) = 0.8575
	// buf = 0.9·buf1 + 0.2·0.5/sqrt(0.8575 + 0.001)
	buf2 := 0.9*buf1 + 0.1/math.Sqrt(0.8585)
	assert.InDelta(t, 1-buf1-buf2, w.Value.Data[0], handTol)

	st := opt.State()
	require.Len(t, st, 2)
	assert.Equal(t, "w.square_avg", st[0].Name)
	assert.InDelta(t, 0.8575, st[0].Value.Data[0], handTol)
	assert.Equal(t, "w.momentum_buffer", st[1].Name)
	assert.InDelta(t, buf2, st[1].Value.Data[0], handTol)
}

// TestRMSPropTFSemantics checks the two choices that set TensorFlow's
// RMSProp apart from PyTorch's, each in a case where the two disagree by a
// large factor.
func TestRMSPropTFSemantics(t *testing.T) {
	t.Run("square_avg starts at one", func(t *testing.T) {
		w := param("w", []float64{0}, 1)
		opt, err := NewRMSProp([]*layers.Param[float64]{w}, RMSPropConfig{Decay: 0.9, Epsilon: 1e-3})
		require.NoError(t, err)
		w.Grad.Data[0] = 1
		require.NoError(t, opt.Step(1))
		// TF: ms = 1 + 0.1·(1 − 1) = 1, so w = −1/sqrt(1.001) ≈ −0.9995.
		// PyTorch would start at 0: ms = 0.1, w = −1/(sqrt(0.1) + 0.001) ≈ −3.15.
		assert.InDelta(t, -1/math.Sqrt(1.001), w.Value.Data[0], handTol)
	})
	t.Run("epsilon inside the square root", func(t *testing.T) {
		w := param("w", []float64{0}, 1)
		// Decay 0 makes ms = g² after one step, isolating ε.
		opt, err := NewRMSProp([]*layers.Param[float64]{w}, RMSPropConfig{Decay: 0, Epsilon: 1e-3})
		require.NoError(t, err)
		w.Grad.Data[0] = 1e-4
		require.NoError(t, opt.Step(1))
		// TF: w = −1e-4/sqrt(1e-8 + 1e-3) ≈ −3.16e-3.
		// PyTorch: −1e-4/(sqrt(1e-8) + 1e-3) = −1e-4/1.1e-3 ≈ −9.1e-2.
		// TF's order, ms + (1−ρ)(g² − ms), computes 1 + (1e-8 − 1) here and
		// so leaves ms with an absolute error near 1e-16; next to ε = 1e-3
		// that is 1e-13 relative, ~3e-16 on the result.
		assert.InDelta(t, -1e-4/math.Sqrt(1e-8+1e-3), w.Value.Data[0], 1e-15)
	})
}

// TestAgainstPyTorch compares three steps, with a changing learning rate
// and gradients that depend on the weights, with numbers PyTorch 1.13.1
// produced in float64 (torch.optim.SGD; for RMSProp, timm's RMSpropTF.step
// on its lr_in_momentum path, transcribed) with two parameter groups: the
// 2×2 weight with weight decay 0.01, the bias without. The script:
//
//	w = tensor([[0.5, -1.0], [2.0, 0.25]]); b = tensor([0.1, -0.3])
//	for k, lr in enumerate([0.1, 0.05, 0.2]):
//	    set lr; w.grad = 0.5*w + 0.1*(k+1); b.grad = -0.25*b + 0.2*(k+1); opt.step()
//	SGD(lr, momentum=0.9[, nesterov=True]); RMSpropTF(alpha=0.9, eps=1e-3, momentum=0.9)
func TestAgainstPyTorch(t *testing.T) {
	cases := []struct {
		name string
		make func([]*layers.Param[float64]) (Optimizer[float64], error)
		want []float64
	}{
		{"sgd", func(p []*layers.Param[float64]) (Optimizer[float64], error) {
			return NewSGD(p, SGDConfig{Momentum: 0.9, WeightDecay: 0.01, NoDecay: NormAndBias})
		}, []float64{0.18700776449999998, -0.773177559, 1.1471930879999999, 0.02697687725, -0.15819843750000004, -0.6334546875000001}},
		{"nesterov", func(p []*layers.Param[float64]) (Optimizer[float64], error) {
			return NewSGD(p, SGDConfig{Momentum: 0.9, Nesterov: true, WeightDecay: 0.01, NoDecay: NormAndBias})
		}, []float64{0.07102101680549994, -0.7197483813810001, 0.8617904149919998, -0.060773882892250046, -0.29015527031250005, -0.7958411390625}},
		{"rmsproptf", func(p []*layers.Param[float64]) (Optimizer[float64], error) {
			return NewRMSProp(p, RMSPropConfig{Decay: 0.9, Momentum: 0.9, Epsilon: 1e-3, WeightDecay: 0.01, NoDecay: NormAndBias})
		}, []float64{0.23961992415163066, -0.8170796431897163, 1.366566988971069, 0.06146228829666128, -0.12286575685877438, -0.5830838238823187}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := param("w", []float64{0.5, -1, 2, 0.25}, 2, 2)
			b := param("b", []float64{0.1, -0.3}, 2)
			opt, err := c.make([]*layers.Param[float64]{w, b})
			require.NoError(t, err)
			for k, lr := range []float64{0.1, 0.05, 0.2} {
				for i, v := range w.Value.Data {
					w.Grad.Data[i] = v*0.5 + 0.1*float64(k+1)
				}
				for i, v := range b.Value.Data {
					b.Grad.Data[i] = v*-0.25 + 0.2*float64(k+1)
				}
				require.NoError(t, opt.Step(lr))
			}
			got := append(append([]float64(nil), w.Value.Data...), b.Value.Data...)
			// Same formulas in float64, but PyTorch's kernels group a few
			// operations differently (x·μ then +g, lr·g then /avg), which
			// is worth an ulp or two per step on values of order one.
			assert.InDeltaSlice(t, c.want, got, 1e-15)
		})
	}
}

// refOptimizer is a float64 reference written straight from the formulas,
// one parameter at a time, with no shared code with the optimisers.
type refOptimizer struct {
	kind           string // "sgd", "nesterov", "rmsprop"
	mu, wd, rho, e float64
	buf, ms        [][]float64
}

func (r *refOptimizer) step(w, g [][]float64, decay []bool, lr float64) {
	if r.buf == nil {
		for _, wi := range w {
			r.buf = append(r.buf, make([]float64, len(wi)))
			ones := make([]float64, len(wi))
			for j := range ones {
				ones[j] = 1
			}
			r.ms = append(r.ms, ones)
		}
	}
	for p := range w {
		for j := range w[p] {
			grad := g[p][j]
			if decay[p] {
				grad += r.wd * w[p][j]
			}
			switch r.kind {
			case "sgd":
				r.buf[p][j] = r.mu*r.buf[p][j] + grad
				w[p][j] -= lr * r.buf[p][j]
			case "nesterov":
				r.buf[p][j] = r.mu*r.buf[p][j] + grad
				w[p][j] -= lr * (grad + r.mu*r.buf[p][j])
			case "rmsprop":
				r.ms[p][j] = r.rho*r.ms[p][j] + (1-r.rho)*grad*grad
				r.buf[p][j] = r.mu*r.buf[p][j] + lr*grad/math.Sqrt(r.ms[p][j]+r.e)
				w[p][j] -= r.buf[p][j]
			}
		}
	}
}

// TestOptimizersMatchReference runs 60 float32 steps on a noisy quadratic,
// with a warmup-cosine rate, and checks the weights against the float64
// reference loop; the float64 optimisers must match it to rounding.
func TestOptimizersMatchReference(t *testing.T) {
	shapes := [][]int{{4, 3, 3, 2}, {8}, {5, 4}}
	sched := WarmupCosine{Base: 0.05, Floor: 0.001, WarmupStart: 0.005, WarmupSteps: 10, TotalSteps: 60}
	refs := []refOptimizer{
		{kind: "sgd", mu: 0.9, wd: 1e-3},
		{kind: "nesterov", mu: 0.9, wd: 1e-3},
		{kind: "rmsprop", mu: 0.9, wd: 1e-3, rho: 0.9, e: 1e-3},
	}
	build := func(kind string, p32 []*layers.Param[float32], p64 []*layers.Param[float64]) (Optimizer[float32], Optimizer[float64]) {
		switch kind {
		case "rmsprop":
			cfg := RMSPropConfig{Decay: 0.9, Momentum: 0.9, Epsilon: 1e-3, WeightDecay: 1e-3, NoDecay: NormAndBias}
			a, err := NewRMSProp(p32, cfg)
			require.NoError(t, err)
			b, err := NewRMSProp(p64, cfg)
			require.NoError(t, err)
			return a, b
		default:
			cfg := SGDConfig{Momentum: 0.9, Nesterov: kind == "nesterov", WeightDecay: 1e-3, NoDecay: NormAndBias}
			a, err := NewSGD(p32, cfg)
			require.NoError(t, err)
			b, err := NewSGD(p64, cfg)
			require.NoError(t, err)
			return a, b
		}
	}
	for _, r := range refs {
		t.Run(r.kind, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var p32 []*layers.Param[float32]
			var p64 []*layers.Param[float64]
			var ref, target [][]float64
			var decay []bool
			for i, s := range shapes {
				n := tensor.Numel(s)
				w, tg := make([]float64, n), make([]float64, n)
				for j := range w {
					// Start from float32-representable values so all three
					// runs begin at exactly the same point.
					w[j] = float64(float32(rng.NormFloat64()))
					tg[j] = rng.NormFloat64()
				}
				w32 := make([]float32, n)
				for j, v := range w {
					w32[j] = float32(v)
				}
				name := string(rune('a' + i))
				p32 = append(p32, param(name, w32, s...))
				p64 = append(p64, param(name, w, s...))
				ref = append(ref, append([]float64(nil), w...))
				target = append(target, tg)
				decay = append(decay, len(s) > 1)
			}
			o32, o64 := build(r.kind, p32, p64)
			for step := range 60 {
				// Gradient of ½·Σ(w − target)² plus a little fixed noise,
				// computed from each run's own weights so errors feed back.
				grads := make([][]float64, len(ref))
				for i := range ref {
					grads[i] = make([]float64, len(ref[i]))
					for j := range ref[i] {
						noise := 0.1 * math.Sin(float64(step*31+j))
						grads[i][j] = ref[i][j] - target[i][j] + noise
						p64[i].Grad.Data[j] = p64[i].Value.Data[j] - target[i][j] + noise
						p32[i].Grad.Data[j] = float32(float64(p32[i].Value.Data[j]) - target[i][j] + noise)
					}
				}
				lr := sched.LR(step)
				r.step(ref, grads, decay, lr)
				require.NoError(t, o32.Step(lr))
				require.NoError(t, o64.Step(lr))
			}
			for i := range ref {
				for j, want := range ref[i] {
					// float64: a different but equivalent order of
					// operations, 60 steps of rounding at 1e-16 each.
					require.InDelta(t, want, p64[i].Value.Data[j], 1e-12, "float64 %s[%d]", p64[i].Name, j)
					// float32: each step rounds at ~6e-8 relative and
					// the contraction towards the target damps old error,
					// so the weights (of order one) stay within ~1e-5.
					require.InDelta(t, want, float64(p32[i].Value.Data[j]), 2e-5, "float32 %s[%d]", p32[i].Name, j)
				}
			}
		})
	}
}

func TestWeightDecayExemption(t *testing.T) {
	for _, kind := range []string{"sgd", "rmsprop"} {
		t.Run(kind, func(t *testing.T) {
			conv := param("conv.weight", []float64{2, -4}, 2, 1, 1, 1)
			bnW := param("bn.weight", []float64{2, -4}, 2)
			bias := param("fc.bias", []float64{2}, 1)
			scalar := param("scale", []float64{2}) // 0-d is exempt too
			params := []*layers.Param[float64]{conv, bnW, bias, scalar}
			var opt Optimizer[float64]
			var err error
			if kind == "sgd" {
				opt, err = NewSGD(params, SGDConfig{WeightDecay: 0.1, NoDecay: NormAndBias})
			} else {
				opt, err = NewRMSProp(params, RMSPropConfig{Decay: 0.9, Epsilon: 1e-3, WeightDecay: 0.1, NoDecay: NormAndBias})
			}
			require.NoError(t, err)
			require.NoError(t, opt.Step(0.5)) // all gradients are zero
			// Only weight decay moves anything, and only the 4-d weight.
			assert.Equal(t, []float64{2, -4}, bnW.Value.Data)
			assert.Equal(t, []float64{2}, bias.Value.Data)
			assert.Equal(t, []float64{2}, scalar.Value.Data)
			if kind == "sgd" {
				// w − lr·λ·w = 2 − 0.5·0.1·2 = 1.9, −4 + 0.2 = −3.8
				assert.InDeltaSlice(t, []float64{1.9, -3.8}, conv.Value.Data, handTol)
			} else {
				// g = 0.1·2 = 0.2: ms = 1 + 0.1·(0.04 − 1) = 0.904, w = 2 − 0.5·0.2/sqrt(0.905)
				assert.InDelta(t, 2-0.1/math.Sqrt(0.905), conv.Value.Data[0], handTol)
			}

			// Without the predicate every parameter decays.
			p := param("bn.weight", []float64{2}, 1)
			if kind == "sgd" {
				opt, err = NewSGD([]*layers.Param[float64]{p}, SGDConfig{WeightDecay: 0.1})
			} else {
				opt, err = NewRMSProp([]*layers.Param[float64]{p}, RMSPropConfig{Decay: 0.9, Epsilon: 1e-3, WeightDecay: 0.1})
			}
			require.NoError(t, err)
			require.NoError(t, opt.Step(0.5))
			assert.Less(t, p.Value.Data[0], 2.0)
		})
	}
}

// TestStateRoundTrip stops a float32 run halfway, saves weights and
// optimiser state, and continues in a fresh optimiser: the result must be
// bit-identical to the uninterrupted run.
func TestStateRoundTrip(t *testing.T) {
	makers := map[string]func([]*layers.Param[float32]) (Optimizer[float32], error){
		"sgd": func(p []*layers.Param[float32]) (Optimizer[float32], error) {
			return NewSGD(p, SGDConfig{Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4, NoDecay: NormAndBias})
		},
		"rmsprop": func(p []*layers.Param[float32]) (Optimizer[float32], error) {
			return NewRMSProp(p, EfficientNetRMSProp())
		},
	}
	for name, mk := range makers {
		t.Run(name, func(t *testing.T) {
			newParams := func() []*layers.Param[float32] {
				return []*layers.Param[float32]{
					param("w", []float32{0.3, -0.7, 1.1, 0.05, -2, 0.8}, 2, 3),
					param("b", []float32{0.1, -0.1}, 2),
				}
			}
			setGrads := func(ps []*layers.Param[float32], step int) {
				for i, p := range ps {
					for j, v := range p.Value.Data {
						p.Grad.Data[j] = v*0.3 + float32(math.Cos(float64(step+i*7+j)))
					}
				}
			}
			sched := PaperDecay(0.05, 3)
			run := func(opt Optimizer[float32], ps []*layers.Param[float32], from, to int) {
				for s := from; s < to; s++ {
					ZeroGrad(ps)
					setGrads(ps, s)
					require.NoError(t, opt.Step(sched.LR(s)))
				}
			}

			full := newParams()
			opt, err := mk(full)
			require.NoError(t, err)
			run(opt, full, 0, 20)
			// Checkpoint: copies of the weights and of the state tensors.
			var savedW [][]float32
			for _, p := range full {
				savedW = append(savedW, append([]float32(nil), p.Value.Data...))
			}
			var savedState []*layers.Buffer[float32]
			for _, b := range opt.State() {
				savedState = append(savedState, &layers.Buffer[float32]{Name: b.Name, Value: b.Value.Clone()})
			}
			run(opt, full, 20, 40)

			resumed := newParams()
			for i, p := range resumed {
				copy(p.Value.Data, savedW[i])
			}
			opt2, err := mk(resumed)
			require.NoError(t, err)
			require.NoError(t, opt2.LoadState(savedState))
			run(opt2, resumed, 20, 40)

			for i := range full {
				require.Equal(t, full[i].Value.Data, resumed[i].Value.Data, "resumed %s differs", full[i].Name)
			}
		})
	}
}

func TestLoadStateErrors(t *testing.T) {
	w := param("w", []float32{1, 2}, 2)
	opt, err := NewRMSProp([]*layers.Param[float32]{w}, EfficientNetRMSProp())
	require.NoError(t, err)
	good := func() []*layers.Buffer[float32] {
		var out []*layers.Buffer[float32]
		for _, b := range opt.State() {
			c := b.Value.Clone()
			for i := range c.Data {
				c.Data[i] = 7
			}
			out = append(out, &layers.Buffer[float32]{Name: b.Name, Value: c})
		}
		return out
	}
	before := opt.State()[0].Value.Clone()

	missing := good()[:1]
	require.ErrorContains(t, opt.LoadState(missing), "has 1 tensors, want 2")

	renamed := good()
	renamed[1].Name = "v.momentum_buffer"
	require.ErrorContains(t, opt.LoadState(renamed), `"w.momentum_buffer" is missing`)

	reshaped := good()
	reshaped[1].Value = tensor.New[float32](1, 2)
	require.ErrorContains(t, opt.LoadState(reshaped), "has shape [1 2], want [2]")

	twice := append(good(), good()[0])
	require.ErrorContains(t, opt.LoadState(twice), "appears twice")

	require.Error(t, opt.LoadState([]*layers.Buffer[float32]{nil, nil}))
	assert.Equal(t, before.Data, opt.State()[0].Value.Data, "a failed load must change nothing")

	require.NoError(t, opt.LoadState(good()))
	assert.Equal(t, []float32{7, 7}, opt.State()[0].Value.Data)
}

func TestConstructorErrors(t *testing.T) {
	ok := func() []*layers.Param[float64] { return []*layers.Param[float64]{param("w", []float64{1}, 1)} }
	for _, c := range []struct {
		name string
		err  error
	}{
		{"negative momentum", second(NewSGD(ok(), SGDConfig{Momentum: -0.1}))},
		{"momentum 1", second(NewSGD(ok(), SGDConfig{Momentum: 1}))},
		{"nesterov without momentum", second(NewSGD(ok(), SGDConfig{Nesterov: true}))},
		{"negative weight decay", second(NewSGD(ok(), SGDConfig{WeightDecay: -1}))},
		{"NaN weight decay", second(NewSGD(ok(), SGDConfig{WeightDecay: math.NaN()}))},
		{"duplicate names", second(NewSGD(append(ok(), ok()...), SGDConfig{}))},
		{"nil param", second(NewSGD([]*layers.Param[float64]{nil}, SGDConfig{}))},
		{"grad size", second(NewSGD([]*layers.Param[float64]{{Name: "w", Value: tensor.New[float64](2), Grad: tensor.New[float64](3)}}, SGDConfig{}))},
		{"rmsprop decay 1", second(NewRMSProp(ok(), RMSPropConfig{Decay: 1, Epsilon: 1e-3}))},
		{"rmsprop zero epsilon", second(NewRMSProp(ok(), RMSPropConfig{Decay: 0.9}))},
		{"rmsprop NaN momentum", second(NewRMSProp(ok(), RMSPropConfig{Decay: 0.9, Epsilon: 1e-3, Momentum: math.NaN()}))},
	} {
		assert.Error(t, c.err, c.name)
	}
}

func second[A any](_ A, err error) error { return err }

func TestStepErrors(t *testing.T) {
	w := param("w", []float64{1}, 1)
	opt, err := NewSGD([]*layers.Param[float64]{w}, SGDConfig{Momentum: 0.9})
	require.NoError(t, err)
	w.Grad.Data[0] = 1

	err = opt.Step(math.NaN())
	require.ErrorIs(t, err, ErrNonFinite)
	err = opt.Step(math.Inf(1))
	require.ErrorIs(t, err, ErrNonFinite)
	require.ErrorContains(t, opt.Step(-0.1), "negative")
	assert.Equal(t, []float64{1}, w.Value.Data, "a rejected step must not move the weights")

	w.Value = tensor.New[float64](2) // replaced by a tensor of another size
	w.Grad = tensor.New[float64](2)
	require.ErrorContains(t, opt.Step(0.1), `parameter "w" has 2 values and 2 gradients, optimiser state was made for 1`)
}

func TestCheckGradsAndLoss(t *testing.T) {
	a := param("a", []float32{1, 2, 3}, 3)
	b := param("b", []float32{1, 2, 3}, 3)
	params := []*layers.Param[float32]{a, b}
	require.NoError(t, CheckGrads(params))
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		b.Grad.Data[2] = bad
		err := CheckGrads(params)
		require.ErrorIs(t, err, ErrNonFinite)
		assert.ErrorContains(t, err, `gradient of "b"`)
		assert.ErrorContains(t, err, "index 2")
	}
	b.Grad.Data[2] = math.MaxFloat32 // large but finite
	require.NoError(t, CheckGrads(params))

	require.NoError(t, CheckLoss(2.3))
	require.ErrorIs(t, CheckLoss(math.NaN()), ErrNonFinite)
	require.ErrorIs(t, CheckLoss(math.Inf(1)), ErrNonFinite)
}

func TestZeroGrad(t *testing.T) {
	a := param("a", []float32{1, 2}, 2)
	copy(a.Grad.Data, []float32{3, 4})
	ZeroGrad([]*layers.Param[float32]{a})
	assert.Equal(t, []float32{0, 0}, a.Grad.Data)

	copy(a.Grad.Data, []float32{3, 4})
	opt, err := NewSGD([]*layers.Param[float32]{a}, SGDConfig{})
	require.NoError(t, err)
	opt.ZeroGrad()
	assert.Equal(t, []float32{0, 0}, a.Grad.Data)
}

func TestStepDoesNotAllocate(t *testing.T) {
	ps := []*layers.Param[float32]{param("w", make([]float32, 64), 8, 8), param("b", make([]float32, 8), 8)}
	sgd, err := NewSGD(ps, SGDConfig{Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4, NoDecay: NormAndBias})
	require.NoError(t, err)
	rms, err := NewRMSProp(ps, EfficientNetRMSProp())
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(10, func() { _ = sgd.Step(0.1) }))
	assert.Zero(t, testing.AllocsPerRun(10, func() { _ = rms.Step(0.1) }))
	assert.Zero(t, testing.AllocsPerRun(10, func() { _ = CheckGrads(ps) }))
}

// b0Params is roughly EfficientNet-B0's parameter count (5.29 M) split into
// tensors of realistic sizes.
func b0Params() []*layers.Param[float32] {
	var ps []*layers.Param[float32]
	total := 0
	for i := 0; total < 5_290_000; i++ {
		n := 1 << (8 + i%12) // 256 … 512 Ki elements
		ps = append(ps, param(string(rune('a'+i%26))+string(rune('0'+i/26)), make([]float32, n), n))
		total += n
	}
	return ps
}

func benchmarkStep(b *testing.B, mk func([]*layers.Param[float32]) (Optimizer[float32], error)) {
	ps := b0Params()
	opt, err := mk(ps)
	require.NoError(b, err)
	n := 0
	for _, p := range ps {
		n += len(p.Value.Data)
	}
	b.SetBytes(int64(n) * 4)
	b.ResetTimer()
	for b.Loop() {
		if err := opt.Step(0.01); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSGDNesterovB0(b *testing.B) {
	benchmarkStep(b, func(p []*layers.Param[float32]) (Optimizer[float32], error) {
		return NewSGD(p, SGDConfig{Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4, NoDecay: NormAndBias})
	})
}

func BenchmarkRMSPropB0(b *testing.B) {
	benchmarkStep(b, func(p []*layers.Param[float32]) (Optimizer[float32], error) {
		return NewRMSProp(p, EfficientNetRMSProp())
	})
}

func BenchmarkCheckGradsB0(b *testing.B) {
	ps := b0Params()
	b.SetBytes(5_290_000 * 4)
	for b.Loop() {
		if err := CheckGrads(ps); err != nil {
			b.Fatal(err)
		}
	}
}
