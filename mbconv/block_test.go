package mbconv

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/gradcheck"
	"github.com/effnet-go/effnet/internal/safetensors"
	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/layers"
)

// The reference block is torchvision's MBConv(expand 6, k3, s1, 16→16) in
// train mode, float64, stored with the layer fixtures of package layers.
const refPath = "../layers/testdata/layers_f64.safetensors"

// torchvisionNames maps this block's timm-style names to torchvision's
// module paths inside MBConv.block.
var torchvisionNames = map[string]string{
	"conv_pw": "block.0.0", "bn1": "block.0.1",
	"conv_dw": "block.1.0", "bn2": "block.1.1",
	"se.conv_reduce": "block.2.fc1", "se.conv_expand": "block.2.fc2",
	"conv_pwl": "block.3.0", "bn3": "block.3.1",
}

func splitName(name string) (module, leaf string) {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			return name[:i], name[i+1:]
		}
	}
	return "", name
}

// torchLayout converts a reference tensor to effnet's layout: 4-d conv
// weights and activations from NCHW/OIHW to NHWC/OHWI, except 1×1 SE
// weights, which effnet keeps as [out, in].
func torchLayout(t *testing.T, f *safetensors.File, name string, linear bool) *tensor.Tensor[float64] {
	t.Helper()
	d, shape, err := f.Float64(name)
	require.NoError(t, err)
	x, err := tensor.FromData(d, shape...)
	require.NoError(t, err)
	if len(shape) == 4 && !linear {
		return tensor.NCHWToNHWC(x)
	}
	if linear && len(shape) == 4 {
		x.Shape = x.Shape[:2]
	}
	return x
}

func TestBlockMatchesTorchvision(t *testing.T) {
	f, err := safetensors.ReadFile(refPath)
	require.NoError(t, err)
	cfg := Config{In: 16, Mid: 96, Out: 16, Kernel: 3, Stride: 1, SE: 4, Skip: true,
		Padding: layers.PadSymmetric, BNEps: 1e-5, BNMomentum: 0.1, Act: layers.SiLU}
	b, err := New[float64](cfg, rand.New(rand.NewPCG(1, 2)))
	require.NoError(t, err)
	for _, p := range b.Params() {
		mod, leaf := splitName(p.Name)
		src := torchLayout(t, f, "mbconv."+torchvisionNames[mod]+"."+leaf, mod[:2] == "se")
		require.Equal(t, p.Value.Len(), src.Len(), p.Name)
		copy(p.Value.Data, src.Data)
	}
	for _, buf := range b.Buffers() {
		mod, leaf := splitName(buf.Name)
		src := torchLayout(t, f, "mbconv.before."+torchvisionNames[mod]+"."+leaf, false)
		copy(buf.Value.Data, src.Data)
	}
	x := torchLayout(t, f, "mbconv.input", false)
	y, err := b.Forward(x, layers.Train)
	require.NoError(t, err)
	// float64 against PyTorch float64: the two differ only in summation
	// order, whose rounding is ~1e-16 per term; through the block's ~100-term
	// sums and BatchNorm's division by a batch std near 1 that stays far
	// below the 1e-10 the issue sets.
	const tol = 1e-10
	require.NoError(t, gradcheck.Compare("output", y.Data, torchLayout(t, f, "mbconv.output", false).Data, tol))
	dx, err := b.Backward(torchLayout(t, f, "mbconv.grad_output", false))
	require.NoError(t, err)
	require.NoError(t, gradcheck.Compare("grad_input", dx.Data, torchLayout(t, f, "mbconv.grad_input", false).Data, tol))
	for _, p := range b.Params() {
		mod, leaf := splitName(p.Name)
		want := torchLayout(t, f, "mbconv."+torchvisionNames[mod]+".grad_"+leaf, mod[:2] == "se")
		require.NoError(t, gradcheck.Compare(p.Name+" grad", p.Grad.Data, want.Data, tol))
	}
	for _, buf := range b.Buffers() {
		mod, leaf := splitName(buf.Name)
		want := torchLayout(t, f, "mbconv.after."+torchvisionNames[mod]+"."+leaf, false)
		require.NoError(t, gradcheck.Compare(buf.Name+" after step", buf.Value.Data, want.Data, tol))
	}
}

// checkBlockGrads is a float64 finite-difference check of the whole block:
// the input gradient and every parameter gradient, with loss sum(out·R).
// eps 1e-6 and tol 1e-6: see layers' checkLayerGrads for the reasoning
// (central differences, truncation ~eps², rounding ~1e-16/eps).
func checkBlockGrads(t *testing.T, cfg Config, h, w int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	b, err := New[float64](cfg, rng)
	require.NoError(t, err)
	for _, p := range b.Params() {
		for i := range p.Value.Data {
			if p.Value.Data[i] == 0 { // BN bias and SE biases start at zero
				p.Value.Data[i] = 0.1 * rng.NormFloat64()
			}
		}
	}
	x := tensor.New[float64](2, h, w, cfg.In)
	copy(x.Data, gradcheck.Weights(x.Len(), 11))
	y, err := b.Forward(x, layers.Train)
	require.NoError(t, err)
	r := gradcheck.Weights(y.Len(), 12)
	loss := func() float64 {
		y, err := b.Forward(x, layers.Train)
		require.NoError(t, err)
		return gradcheck.Dot(y.Data, r)
	}
	loss()
	dy, err := tensor.FromData(append([]float64(nil), r...), y.Shape...)
	require.NoError(t, err)
	dx, err := b.Backward(dy)
	require.NoError(t, err)
	const eps, tol = 1e-6, 1e-6
	require.NoError(t, gradcheck.Compare("input", append([]float64(nil), dx.Data...), gradcheck.Numeric(loss, x.Data, eps), tol))
	for _, p := range b.Params() {
		g := append([]float64(nil), p.Grad.Data...)
		require.NoError(t, gradcheck.Compare(p.Name, g, gradcheck.Numeric(loss, p.Value.Data, eps), tol))
	}
}

func TestBlockGradients(t *testing.T) {
	base := Config{BNEps: 1e-3, BNMomentum: 0.01, Act: layers.SiLU}
	for name, c := range map[string]Config{
		"expand-skip-symmetric": {In: 4, Mid: 12, Out: 4, Kernel: 3, Stride: 1, SE: 1, Skip: true, Padding: layers.PadSymmetric},
		"no-expand-same-s2":     {In: 4, Mid: 4, Out: 6, Kernel: 5, Stride: 2, SE: 1, Padding: layers.PadSame},
		"expand-s2-same-no-se":  {In: 3, Mid: 6, Out: 5, Kernel: 3, Stride: 2, Padding: layers.PadSame},
	} {
		t.Run(name, func(t *testing.T) {
			c.BNEps, c.BNMomentum, c.Act = base.BNEps, base.BNMomentum, base.Act
			checkBlockGrads(t, c, 6, 5)
		})
	}
}

func TestConfigErrors(t *testing.T) {
	ok := Config{In: 8, Mid: 8, Out: 8, Kernel: 3, Stride: 1, SE: 2, Skip: true, BNEps: 1e-5, BNMomentum: 0.1, Act: layers.SiLU}
	rng := rand.New(rand.NewPCG(1, 1))
	_, err := New[float32](ok, rng)
	require.NoError(t, err)
	for name, mutate := range map[string]func(*Config){
		"zero channels":     func(c *Config) { c.Mid = 0 },
		"stride 3":          func(c *Config) { c.Stride = 3; c.Skip = false },
		"skip with stride2": func(c *Config) { c.Stride = 2 },
		"skip widening":     func(c *Config) { c.Out = 16 },
		"drop without skip": func(c *Config) { c.Skip = false; c.DropPath = 0.1 },
		"drop rate 1":       func(c *Config) { c.DropPath = 1 },
		"bad bn eps":        func(c *Config) { c.BNEps = 0 },
	} {
		c := ok
		mutate(&c)
		_, err := New[float32](c, rng)
		require.Error(t, err, name)
	}
}

func TestBlockShapeError(t *testing.T) {
	b, err := New[float32](Config{In: 8, Mid: 32, Out: 16, Kernel: 3, Stride: 2, SE: 2, BNEps: 1e-5, BNMomentum: 0.1, Act: layers.SiLU}, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	_, err = b.Forward(tensor.New[float32](1, 8, 8, 5), layers.Eval)
	require.ErrorContains(t, err, "[1 8 8 5]")
}
