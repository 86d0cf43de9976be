package mbconv

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/gradcheck"
	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/layers"
)

// TestBlockDropPath pins stochastic depth against the same block without
// it. With keep[n] the per-sample factor drop-path drew (0 or 1/(1-P)):
//
//	out   = x + keep·branch(x)            where the plain block gives x + branch(x)
//	dx    = dy + dbranch(keep·dy)         = dxPlain(keep·dy) - keep·dy + dy
//
// and the parameter gradients are the plain block's for the upstream
// gradient keep·dy. Both blocks compute in float64 on the same values in
// the same order, so 1e-12 only absorbs the rounding of the extra
// additions. The batch is large enough that, at P = 0.5, some samples are
// dropped and some kept (checked).
func TestBlockDropPath(t *testing.T) {
	const tol = 1e-12
	cfg := Config{In: 8, Mid: 24, Out: 8, Kernel: 3, Stride: 1, SE: 2, Skip: true, DropPath: 0.5,
		Padding: layers.PadSymmetric, BNEps: 1e-5, BNMomentum: 0.1, Act: layers.SiLU}
	drop, err := New[float64](cfg, rand.New(rand.NewPCG(3, 4)))
	require.NoError(t, err)
	cfg.DropPath = 0
	plain, err := New[float64](cfg, rand.New(rand.NewPCG(3, 4)))
	require.NoError(t, err)
	for i, p := range plain.Params() {
		require.Equal(t, p.Name, drop.Params()[i].Name)
		p.Value.CopyFrom(drop.Params()[i].Value)
	}
	const n, hw, c = 8, 5, 8
	x, err := tensor.FromData(gradcheck.Weights(n*hw*hw*c, 5), n, hw, hw, c)
	require.NoError(t, err)
	dy, err := tensor.FromData(gradcheck.Weights(n*hw*hw*c, 6), n, hw, hw, c)
	require.NoError(t, err)

	yd, err := drop.Forward(x, layers.Train)
	require.NoError(t, err)
	yd = yd.Clone()
	keep := append([]float64(nil), drop.drop.Keep()...)
	require.Contains(t, keep, 0.0, "no sample dropped: pick another seed")
	require.Contains(t, keep, 2.0, "every sample dropped: pick another seed")
	yp, err := plain.Forward(x, layers.Train)
	require.NoError(t, err)
	per := hw * hw * c
	want := make([]float64, len(yp.Data))
	for i := range want {
		want[i] = x.Data[i] + keep[i/per]*(yp.Data[i]-x.Data[i])
	}
	require.NoError(t, gradcheck.Compare("output", yd.Data, want, tol))

	dyKeep := dy.Clone()
	for i := range dyKeep.Data {
		dyKeep.Data[i] *= keep[i/per]
	}
	dxd, err := drop.Backward(dy.Clone())
	require.NoError(t, err)
	dxp, err := plain.Backward(dyKeep.Clone())
	require.NoError(t, err)
	for i := range want {
		want[i] = dxp.Data[i] - dyKeep.Data[i] + dy.Data[i]
	}
	require.NoError(t, gradcheck.Compare("grad_input", dxd.Data, want, tol))
	for i, p := range plain.Params() {
		require.NoError(t, gradcheck.Compare(p.Name+" grad", drop.Params()[i].Grad.Data, p.Grad.Data, tol))
	}

	// Eval leaves drop-path out: both blocks agree exactly.
	ye, err := drop.Forward(x, layers.Eval)
	require.NoError(t, err)
	ye = ye.Clone()
	yp, err = plain.Forward(x, layers.Eval)
	require.NoError(t, err)
	require.Equal(t, yp.Data, ye.Data)
}
