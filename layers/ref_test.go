package layers

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/gradcheck"
	"github.com/effnet-go/effnet/internal/safetensors"
	"github.com/effnet-go/effnet/internal/tensor"
)

// The reference tensors come from PyTorch in float64 (testdata/layers_f64,
// copied from ../shared/reference; its metadata gives each layer's exact
// configuration). They are NCHW; these helpers turn them into effnet layouts.

var refOnce = sync.OnceValues(func() (*safetensors.File, error) {
	return safetensors.ReadFile("testdata/layers_f64.safetensors")
})

func refFile(t testing.TB) *safetensors.File {
	t.Helper()
	f, err := refOnce()
	require.NoError(t, err)
	return f
}

// ref returns a reference tensor as stored (no layout change).
func ref(t testing.TB, name string) *tensor.Tensor[float64] {
	t.Helper()
	d, shape, err := refFile(t).Float64(name)
	require.NoError(t, err)
	x, err := tensor.FromData(d, shape...)
	require.NoError(t, err)
	return x
}

// refNHWC returns a 4-d NCHW reference activation in NHWC order.
func refNHWC(t testing.TB, name string) *tensor.Tensor[float64] {
	t.Helper()
	x := ref(t, name)
	require.Len(t, x.Shape, 4, name)
	return tensor.NCHWToNHWC(x)
}

// refOHWI returns a PyTorch conv weight [out, in/groups, kh, kw] as OHWI,
// which is the NCHW→NHWC permutation applied to the weight.
func refOHWI(t testing.TB, name string) *tensor.Tensor[float64] {
	return refNHWC(t, name)
}

// refLabels returns integer class labels.
func refLabels(t testing.TB, name string) []int {
	t.Helper()
	d, _, err := refFile(t).Int64(name)
	require.NoError(t, err)
	out := make([]int, len(d))
	for i, v := range d {
		out[i] = int(v)
	}
	return out
}

// requireClose fails if any element of got differs from want by more than
// tol·max(1, |want|).
func requireClose(t testing.TB, what string, want, got []float64, tol float64) {
	t.Helper()
	require.NoError(t, gradcheck.Compare(what, got, want, tol))
}

// checkLayerGrads runs a float64 finite-difference check of l at input x
// with the scalar loss sum(Forward(x)·R) for a fixed random R: the input
// gradient and every parameter gradient. mode is normally Train, so that
// BatchNorm is checked through its batch statistics.
//
// eps = 1e-6 balances truncation error (O(eps²) for central differences)
// against rounding (O(1e-16/eps)); both then sit near 1e-10, so tol = 1e-6
// leaves four orders of margin while any wrong term in a gradient formula
// shows up as an O(1) relative error.
func checkLayerGrads(t *testing.T, l Layer[float64], x *tensor.Tensor[float64], mode Mode) {
	t.Helper()
	const eps, tol = 1e-6, 1e-6
	y, err := l.Forward(x, mode)
	require.NoError(t, err)
	r := gradcheck.Weights(y.Len(), 7)
	loss := func() float64 {
		y, err := l.Forward(x, mode)
		require.NoError(t, err)
		return gradcheck.Dot(y.Data, r)
	}
	for _, p := range l.Params() {
		p.Grad.Zero()
	}
	loss()
	dy, err := tensor.FromData(append([]float64(nil), r...), y.Shape...)
	require.NoError(t, err)
	dx, err := l.Backward(dy)
	require.NoError(t, err)
	analyticX := append([]float64(nil), dx.Data...)
	analyticP := make([][]float64, len(l.Params()))
	for i, p := range l.Params() {
		analyticP[i] = append([]float64(nil), p.Grad.Data...)
	}
	require.NoError(t, gradcheck.Compare("input gradient", analyticX, gradcheck.Numeric(loss, x.Data, eps), tol))
	for i, p := range l.Params() {
		require.NoError(t, gradcheck.Compare(p.Name+" gradient", analyticP[i], gradcheck.Numeric(loss, p.Value.Data, eps), tol))
	}
}
