package train

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

// schedTol covers the rounding of a handful of float64 operations on rates
// of order 0.1.
const schedTol = 1e-15

func TestConstant(t *testing.T) {
	c := Constant(0.01)
	for _, s := range []int{-1, 0, 1, 1 << 30} {
		assert.Equal(t, 0.01, c.LR(s))
	}
}

func TestWarmupCosine(t *testing.T) {
	s := WarmupCosine{Base: 0.1, Floor: 0.001, WarmupStart: 0.0001, WarmupSteps: 100, TotalSteps: 1100}
	for _, c := range []struct {
		step int
		want float64
		why  string
	}{
		{-5, 0.0001, "before the start: the first rate"},
		{0, 0.0001, "warmup start"},
		{50, 0.0001 + (0.1-0.0001)*0.5, "halfway up the warmup"},
		{99, 0.0001 + (0.1-0.0001)*0.99, "last warmup step"},
		{100, 0.1, "warmup end: the full rate, cosine at its top"},
		{350, 0.001 + 0.099*0.5*(1+math.Sqrt2/2), "a quarter into the cosine: cos(π/4)"},
		{600, (0.1 + 0.001) / 2, "cosine midpoint: halfway between base and floor"},
		{850, 0.001 + 0.099*0.5*(1-math.Sqrt2/2), "three quarters: cos(3π/4)"},
		{1100, 0.001, "end: the floor"},
		{5000, 0.001, "after the end: still the floor"},
	} {
		assert.InDelta(t, c.want, s.LR(c.step), schedTol, "step %d: %s", c.step, c.why)
	}
	// The cosine only goes down, and the rate is continuous at the seam.
	for step := 101; step <= 1100; step++ {
		assert.LessOrEqual(t, s.LR(step), s.LR(step-1), "step %d", step)
	}
	assert.InDelta(t, s.LR(100), s.LR(99), 0.1/100*1.01, "one warmup increment across the seam")

	noWarmup := WarmupCosine{Base: 0.2, TotalSteps: 10}
	assert.Equal(t, 0.2, noWarmup.LR(0))
	assert.InDelta(t, 0.1, noWarmup.LR(5), schedTol)
	assert.Equal(t, 0.0, noWarmup.LR(10))
}

func TestExponentialDecay(t *testing.T) {
	// 1000 steps an epoch: decay every 2400 steps, warmup over 5000.
	s := PaperDecay(0.256, 1000)
	assert.Equal(t, ExponentialDecay{Base: 0.256, Rate: 0.97, DecaySteps: 2400, Staircase: true, WarmupSteps: 5000}, s)
	for _, c := range []struct {
		step int
		want float64
		why  string
	}{
		{0, 0, "warmup starts from zero, as TF does"},
		{2500, 0.128, "halfway up the warmup"},
		{4999, 0.256 * 4999 / 5000, "last warmup step"},
		// The decay counts from step 0, so at the end of the warmup
		// (5000 = 2.08 intervals) two decays have already happened.
		{5000, 0.256 * 0.97 * 0.97, "first step after warmup"},
		{7199, 0.256 * 0.97 * 0.97, "just before 3·2.4 epochs"},
		{7200, 0.256 * 0.97 * 0.97 * 0.97, "at 7.2 epochs: third decay"},
		{24000, 0.256 * math.Pow(0.97, 10), "at 24 epochs: tenth decay"},
		{24001, 0.256 * math.Pow(0.97, 10), "staircase: flat inside an interval"},
	} {
		assert.InDelta(t, c.want, s.LR(c.step), schedTol, "step %d: %s", c.step, c.why)
	}

	// A step count per epoch that makes 2.4 epochs fractional: 1251 steps
	// (ImageNet at batch 1024) gives an interval of 3002.4 steps, so the
	// first decay lands on step 3003.
	d := ExponentialDecay{Base: 1, Rate: 0.97, DecaySteps: 2.4 * 1251, Staircase: true}
	assert.Equal(t, 1.0, d.LR(3002))
	assert.Equal(t, 0.97, d.LR(3003))
	assert.Equal(t, 0.97, d.LR(6004))
	assert.InDelta(t, 0.97*0.97, d.LR(6005), schedTol)

	smooth := ExponentialDecay{Base: 0.1, Rate: 0.97, DecaySteps: 2400}
	assert.InDelta(t, 0.1*math.Pow(0.97, 1.5), smooth.LR(3600), schedTol, "continuous decay: 1.5 intervals")

	warm := ExponentialDecay{Base: 0.1, Rate: 0.5, DecaySteps: 10, Staircase: true, WarmupStart: 0.02, WarmupSteps: 4}
	assert.InDelta(t, 0.06, warm.LR(2), schedTol, "warmup from WarmupStart: 0.02 + (0.1 − 0.02)·2/4")

	assert.True(t, math.IsNaN(ExponentialDecay{Base: 0.1, Rate: 0.97}.LR(10)), "no interval is invalid")
}
