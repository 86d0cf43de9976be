package layers

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/tensor"
)

// ncReseeded re-seeds the random source before every Forward, so that the
// finite-difference probes of checkLayerGrads all see the mask the analytic
// Backward used. With the mask fixed, dropout is the linear map x ↦ x·mask;
// the check then verifies that Backward applies that same mask (and scale)
// to the gradient, not the randomness itself, which the statistical tests
// below cover.
type ncReseeded struct {
	Layer[float64]
	src *rand.PCG
}

func (r ncReseeded) Forward(x *tensor.Tensor[float64], mode Mode) (*tensor.Tensor[float64], error) {
	r.src.Seed(5, 6)
	return r.Layer.Forward(x, mode)
}

func TestDropoutGradients(t *testing.T) {
	src := rand.NewPCG(5, 6)
	d := NewDropout[float64](0.4, rand.New(src))
	checkLayerGrads(t, ncReseeded{d, src}, ncRandn(41, 1, 6, 10), Train)
	zeros := 0
	for _, m := range d.mask.Data {
		if m == 0 {
			zeros++
		}
	}
	// Guard against a vacuous check: 60 draws at p = 0.4 drop some, keep some.
	assert.True(t, zeros > 0 && zeros < 60, "%d of 60 dropped", zeros)
}

func TestDropoutStatistics(t *testing.T) {
	const p, n = 0.3, 100_000
	d := NewDropout[float64](p, rand.New(rand.NewPCG(1, 2)))
	x := tensor.New[float64](n)
	for i := range x.Data {
		x.Data[i] = 1
	}
	y, err := d.Forward(x, Train)
	require.NoError(t, err)
	kept, sum := 0, 0.0
	for _, v := range y.Data {
		sum += v
		if v != 0 {
			kept++
			// Inverted dropout: every kept value is exactly x/(1-p).
			require.Equal(t, 1/(1-p), v)
		}
	}
	// The kept fraction is Binomial(n, 0.7)/n with standard deviation
	// √(0.21/n) ≈ 0.0015; 0.01 is almost 7σ, so this never flakes yet a
	// wrong rate (say p instead of 1-p) is off by 0.4.
	assert.InDelta(t, 1-p, float64(kept)/n, 0.01)
	// The mean is kept/n/(1-p): 1 within 0.01/0.7.
	assert.InDelta(t, 1, sum/n, 0.015)
}

func TestDropoutEvalAndEdgeCases(t *testing.T) {
	x := ncRandn(42, 1, 4, 8)
	d := NewDropout[float64](0.5, rand.New(rand.NewPCG(1, 2)))
	y, err := d.Forward(x, Eval)
	require.NoError(t, err)
	assert.Equal(t, x.Data, y.Data, "Eval is the identity")
	assert.NotSame(t, x, y, "the output is the layer's own buffer")
	_, err = d.Backward(x)
	require.ErrorContains(t, err, "Dropout(p=0.5): Backward called without a preceding Forward in Train mode")

	none := NewDropout[float64](0, nil)
	y, err = none.Forward(x, Train)
	require.NoError(t, err)
	assert.Equal(t, x.Data, y.Data, "p = 0 keeps everything unscaled")

	all := NewDropout[float64](1, rand.New(rand.NewPCG(1, 2)))
	y, err = all.Forward(x, Train)
	require.NoError(t, err)
	assert.Equal(t, make([]float64, x.Len()), y.Data, "p = 1 drops everything")

	_, err = d.Forward(x, Train)
	require.NoError(t, err)
	_, err = d.Backward(tensor.New[float64](8, 4))
	var se *ShapeError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "Dropout(p=0.5): gradient has shape [8 4], want [4 8]", err.Error())

	assert.Panics(t, func() { NewDropout[float64](-0.1, rand.New(rand.NewPCG(1, 2))) })
	assert.Panics(t, func() { NewDropout[float64](1.5, rand.New(rand.NewPCG(1, 2))) })
	assert.Panics(t, func() { NewDropout[float64](math.NaN(), rand.New(rand.NewPCG(1, 2))) })
	assert.Panics(t, func() { NewDropout[float64](0.2, nil) })
}

func TestDropPathGradients(t *testing.T) {
	src := rand.NewPCG(5, 6)
	d := NewDropPath[float64](0.5, rand.New(src))
	checkLayerGrads(t, ncReseeded{d, src}, ncRandn(43, 1, 8, 2, 3, 4), Train)
	dropped := 0
	for _, k := range d.Keep() {
		if k == 0 {
			dropped++
		}
	}
	// Guard against a vacuous check: the seed drops some samples, not all.
	assert.True(t, dropped > 0 && dropped < 8, "%d of 8 samples dropped", dropped)
}

func TestDropPathPerSample(t *testing.T) {
	const p, n = 0.25, 2000
	d := NewDropPath[float64](p, rand.New(rand.NewPCG(3, 4)))
	// 2000 samples of 3·3·4 = 72000 elements also take the parallel path,
	// with goroutine ranges that start and end inside samples.
	x := ncRandn(44, 1, n, 3, 3, 4)
	y, err := d.Forward(x, Train)
	require.NoError(t, err)
	dy := ncRandn(45, 1, n, 3, 3, 4)
	dx, err := d.Backward(dy)
	require.NoError(t, err)
	per, kept := 36, 0
	for b := range n {
		k := d.Keep()[b]
		if k != 0 {
			kept++
			require.Equal(t, 1/(1-p), k)
		}
		for i := b * per; i < (b+1)*per; i++ {
			// All or nothing: every element of a sample gets its factor.
			require.Equal(t, x.Data[i]*k, y.Data[i], "sample %d", b)
			require.Equal(t, dy.Data[i]*k, dx.Data[i])
		}
	}
	// Binomial(2000, 0.75)/2000 has standard deviation ≈ 0.0097; 0.05 is
	// 5σ, while a wrong rate (p instead of 1-p) is off by 0.5.
	assert.InDelta(t, 1-p, float64(kept)/n, 0.05)
}

func TestDropPathEvalAndEdgeCases(t *testing.T) {
	x := ncRandn(46, 1, 4, 2, 2, 3)
	d := NewDropPath[float64](0.5, rand.New(rand.NewPCG(1, 2)))
	y, err := d.Forward(x, Eval)
	require.NoError(t, err)
	assert.Equal(t, x.Data, y.Data, "Eval is the identity")
	_, err = d.Backward(x)
	require.ErrorContains(t, err, "DropPath(p=0.5): Backward called without a preceding Forward in Train mode")

	zero := NewDropPath[float64](0, nil)
	y, err = zero.Forward(x, Train)
	require.NoError(t, err)
	assert.Equal(t, x.Data, y.Data, "p = 0 is the identity in Train mode too")
	dx, err := zero.Backward(x)
	require.NoError(t, err)
	assert.Equal(t, x.Data, dx.Data)

	_, err = d.Forward(x, Train)
	require.NoError(t, err)
	_, err = d.Backward(tensor.New[float64](4, 2, 2, 2))
	var se *ShapeError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "DropPath(p=0.5): gradient has shape [4 2 2 2], want [4 2 2 3]", err.Error())

	// The same seed gives the same masks: runs are reproducible.
	a := NewDropPath[float64](0.5, rand.New(rand.NewPCG(9, 9)))
	b := NewDropPath[float64](0.5, rand.New(rand.NewPCG(9, 9)))
	big := ncRandn(47, 1, 64, 2)
	_, err = a.Forward(big, Train)
	require.NoError(t, err)
	_, err = b.Forward(big, Train)
	require.NoError(t, err)
	assert.Equal(t, a.Keep(), b.Keep())

	// A dropped sample is exactly zero even where it holds Inf or NaN
	// (those samples skip the block, as if it were not there).
	all := NewDropPath[float64](1, rand.New(rand.NewPCG(1, 2)))
	bad := ncRandn(48, 1, 2, 3)
	bad.Data[1], bad.Data[4] = math.Inf(1), math.NaN()
	y, err = all.Forward(bad, Train)
	require.NoError(t, err)
	assert.Equal(t, make([]float64, 6), y.Data)

	assert.Panics(t, func() { NewDropPath[float64](1.01, rand.New(rand.NewPCG(1, 2))) })
	assert.Panics(t, func() { NewDropPath[float64](0.1, nil) })
}
