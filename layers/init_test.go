package layers

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func convMeanStd(d []float32) (mean, std float64) {
	for _, v := range d {
		mean += float64(v)
	}
	mean /= float64(len(d))
	for _, v := range d {
		std += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, math.Sqrt(std / float64(len(d)))
}

// With n samples the sample mean has standard error σ/√n and the sample
// standard deviation σ/√(2n). The tolerances below are 5 standard errors,
// so a correct implementation fails with probability below 1e-6 (and the
// seed is fixed anyway), while using fan_in or forgetting the √2 gain moves
// the standard deviation by far more.
func TestInitKaimingNormalFanOut(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		shape  []int
		fanOut int
	}{
		{[]int{96, 1, 1, 16}, 96},       // pointwise 16→96
		{[]int{144, 5, 5, 1}, 144 * 25}, // depthwise 5x5: groups not divided out
		{[]int{32, 3, 3, 3}, 32 * 9},    // stem
		{[]int{10, 1280}, 10},           // linear
	} {
		p := newParam[float32]("weight", tc.shape...)
		// Repeat to get enough samples for the small shapes.
		var all []float32
		for len(all) < 200000 {
			require.NoError(t, InitKaimingNormalFanOut(p, rng))
			all = append(all, p.Value.Data...)
		}
		sigma := math.Sqrt(2 / float64(tc.fanOut))
		n := float64(len(all))
		mean, std := convMeanStd(all)
		assert.InDelta(t, 0, mean, 5*sigma/math.Sqrt(n), "%v mean", tc.shape)
		assert.InDelta(t, sigma, std, 5*sigma/math.Sqrt(2*n), "%v std", tc.shape)
	}
	assert.Error(t, InitKaimingNormalFanOut(newParam[float32]("bias", 8), rng))
}

// U(lo, hi) has mean (lo+hi)/2 and standard deviation σ = (hi-lo)/√12.
// The tolerance 5σ/√n is 5 standard errors for the mean and about 11 for
// the sample standard deviation (whose standard error is ≈ 0.45σ/√n for a
// uniform); a wrong range (say ±1/√in) is off by a factor of 1.8.
func TestInitUniform(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	p := newParam[float32]("weight", 1000, 320)
	r := 1 / math.Sqrt(1000)
	InitUniform(p, -r, r, rng)
	n := float64(p.Value.Len())
	sigma := 2 * r / math.Sqrt(12)
	mean, std := convMeanStd(p.Value.Data)
	assert.InDelta(t, 0, mean, 5*sigma/math.Sqrt(n))
	assert.InDelta(t, sigma, std, 5*sigma/math.Sqrt(n))
	// Bounds as float32: rounding may land exactly on ±float32(r).
	r32 := float32(r)
	for _, v := range p.Value.Data {
		require.True(t, v >= -r32 && v <= r32, "%v outside ±%v", v, r32)
	}
}
