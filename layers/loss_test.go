package layers

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/gradcheck"
	"github.com/effnet-go/effnet/internal/tensor"
)

func TestCrossEntropyMatchesPyTorch(t *testing.T) {
	for _, tc := range []struct {
		name      string
		smoothing float64
	}{{"ce", 0}, {"ce_ls", 0.1}} {
		t.Run(tc.name, func(t *testing.T) {
			ce := NewCrossEntropy[float64](tc.smoothing)
			loss, err := ce.Forward(ref(t, tc.name+".logits"), refLabels(t, tc.name+".labels"))
			require.NoError(t, err)
			requireClose(t, tc.name+" loss", ref(t, tc.name+".loss").Data, []float64{loss}, refTol)
			requireClose(t, tc.name+" grad_logits", ref(t, tc.name+".grad_logits").Data, ce.Backward().Data, refTol)
		})
	}
}

func TestCrossEntropyGradient(t *testing.T) {
	for _, eps := range []float64{0, 0.1, 1} {
		ce := NewCrossEntropy[float64](eps)
		logits := ncRandn(51, 2, 5, 7)
		labels := []int{0, 6, 3, 3, 1}
		loss := func() float64 {
			l, err := ce.Forward(logits, labels)
			require.NoError(t, err)
			return l
		}
		loss()
		analytic := append([]float64(nil), ce.Backward().Data...)
		// eps and tolerance as in checkLayerGrads: truncation and rounding
		// errors both near 1e-10, so 1e-6 only fails on a wrong formula.
		require.NoError(t, gradcheck.Compare("logit gradient", analytic, gradcheck.Numeric(loss, logits.Data, 1e-6), 1e-6), "smoothing %g", eps)
	}
}

func TestCrossEntropyLargeLogits(t *testing.T) {
	ce := NewCrossEntropy[float32](0)
	logits := &tensor.Tensor[float32]{Shape: []int{2, 3}, Data: []float32{1e4, -1e4, 0, 1e30, 3e38, -3e38}}
	loss, err := ce.Forward(logits, []int{0, 0})
	require.NoError(t, err)
	// Row 0: log-sum-exp is 1e4 to within e^-1e4, so its loss is 0. Row 1:
	// the label's logit lies max - x₀ below the maximum, which is the loss
	// since the other terms are e^-(huge). Exact in float64 up to one
	// rounding of numbers near 1.5e38 (ulp ≈ 2e22).
	want := (float64(logits.Data[4]) - float64(logits.Data[3])) / 2
	assert.InDelta(t, want, loss, 1e23)
	g := ce.Backward().Data
	for _, v := range g {
		assert.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0))
	}
	// softmax is one-hot on each row's maximum; the gradient (p - y)/N.
	assert.Equal(t, []float32{0, 0, 0, -0.5, 0.5, 0}, g)
	assert.Equal(t, 1, ce.Correct())
}

func TestCrossEntropyFloat32AgreesWithFloat64(t *testing.T) {
	logits := ncRandn(52, 3, 8, 10)
	labels := []int{1, 2, 3, 4, 5, 6, 7, 8}
	l64, err := NewCrossEntropy[float64](0.1).Forward(logits, labels)
	require.NoError(t, err)
	ce32 := NewCrossEntropy[float32](0.1)
	l32, err := ce32.Forward(tensor.Convert[float32](logits), labels)
	require.NoError(t, err)
	// The arithmetic is float64 either way; only the logits were rounded
	// to float32 (relative 6e-8 of values up to ~10), and the loss moves
	// by at most that: 1e-6 absolute.
	assert.InDelta(t, l64, l32, 1e-6)
}

func TestCrossEntropyCorrect(t *testing.T) {
	logits, err := tensor.FromData([]float64{
		0, 3, 1, // argmax 1
		5, 5, 0, // tie: the first maximum, 0
		-1, -2, -0.5, // argmax 2
	}, 3, 3)
	require.NoError(t, err)
	ce := NewCrossEntropy[float64](0)
	_, err = ce.Forward(logits, []int{1, 1, 2})
	require.NoError(t, err)
	assert.Equal(t, 2, ce.Correct())
}

func TestCrossEntropyErrors(t *testing.T) {
	ce := NewCrossEntropy[float64](0.1)
	assert.Panics(t, func() { ce.Backward() }, "no Forward yet")

	logits := tensor.New[float64](3, 4)
	_, err := ce.Forward(logits, []int{0, 4, 1})
	require.EqualError(t, err, "CrossEntropy(smoothing=0.1): label 4 at index 1 is outside [0, 4)")
	_, err = ce.Forward(logits, []int{0, 1, -1})
	require.EqualError(t, err, "CrossEntropy(smoothing=0.1): label -1 at index 2 is outside [0, 4)")
	_, err = ce.Forward(logits, []int{0, 1})
	require.EqualError(t, err, "CrossEntropy(smoothing=0.1): 2 labels for 3 rows of logits")
	_, err = ce.Forward(tensor.New[float64](0, 4), nil)
	require.EqualError(t, err, "CrossEntropy(smoothing=0.1): empty batch")
	_, err = ce.Forward(tensor.New[float64](3, 1, 1, 4), []int{0, 1, 2})
	var se *ShapeError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "CrossEntropy(smoothing=0.1): logits has shape [3 1 1 4], want [N K]", err.Error())
	assert.Panics(t, func() { ce.Backward() }, "a failed Forward leaves nothing to differentiate")

	assert.Panics(t, func() { NewCrossEntropy[float64](-0.1) })
	assert.Panics(t, func() { NewCrossEntropy[float64](1.1) })
}
