package layers

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/gradcheck"
	"github.com/effnet-go/effnet/internal/tensor"
)

// epilogueRef applies e to a copy of y [N, H, W, C] the plain way, in
// float64, and returns it with the per-sample channel means.
func epilogueRef(y *tensor.Tensor[float64], scale, bias []float64, act Activation, res *tensor.Tensor[float64]) (out, means []float64) {
	n, c := y.Shape[0], y.Shape[3]
	hw := y.Len() / (n * c)
	out = append([]float64(nil), y.Data...)
	for i := range out {
		j := i % c
		v := out[i]
		if scale != nil {
			v *= scale[j]
		}
		if bias != nil {
			v += bias[j]
		}
		switch act {
		case SiLU:
			v = v / (1 + math.Exp(-v))
		case ReLU:
			v = max(v, 0)
		}
		if res != nil {
			v += res.Data[i]
		}
		out[i] = v
	}
	means = make([]float64, n*c)
	for i, v := range out {
		means[(i/(hw*c))*c+i%c] += v / float64(hw)
	}
	return out, means
}

var epilogueConvs = []Conv2DConfig{
	{In: 24, Out: 40, Kernel: 1},                        // pointwise: one matrix product
	{In: 48, Out: 48, Kernel: 3, Stride: 2, Groups: 48}, // depthwise
	{In: 40, Out: 40, Kernel: 5, Stride: 1, Groups: 40}, // depthwise, residual-shaped
	{In: 3, Out: 16, Kernel: 3, Stride: 2},              // stem: im2col
	{In: 40, Out: 40, Kernel: 1, Padding: PadSame},      // pointwise, residual-shaped
	{In: 3, Out: 16, Kernel: 3, Stride: 2, Bias: true},  // with a convolution bias
}

// TestForwardEvalEpilogue checks ForwardEval against Forward followed by
// the epilogue done the plain way. float64 evaluates the same expressions
// in the same order (1e-12 absorbs summation order in the means); float32
// is held to 2e-5 relative: SiLU's vector exponential is within 3 ulp and
// the convolution sums at most 1000 float32 products of O(1) values,
// so any error of a missing or misplaced term is orders of magnitude
// larger.
func TestForwardEvalEpilogue(t *testing.T) {
	for ci, cfg := range epilogueConvs {
		cfg.Padding = max(cfg.Padding, PadSymmetric)
		conv := newTestConv(t, cfg, uint64(ci))
		conv32 := float32Conv(t, conv)
		x := convRand(uint64(100+ci), 3, 11, 11, cfg.In)
		x32 := tensor.Convert[float32](x)
		x = tensor.Convert[float64](x32)
		y, err := conv.Forward(x, Eval)
		require.NoError(t, err)
		y = y.Clone()
		oh, ow := y.Shape[1], y.Shape[2]
		scale := gradcheck.Weights(cfg.Out, 7)
		bias := gradcheck.Weights(cfg.Out, 8)
		var res *tensor.Tensor[float64]
		if y.HasShape(x.Shape...) {
			res = x
		}
		for _, tc := range []struct {
			name        string
			scale, bias []float64
			act         Activation
			res, means  bool
		}{
			{"all", scale, bias, SiLU, true, true},
			{"affine", scale, bias, Identity, false, false},
			{"act", nil, nil, SiLU, false, false},
			{"relu+means", nil, bias, ReLU, false, true},
			{"residual", scale, nil, Identity, true, false},
		} {
			t.Run(fmt.Sprintf("%v/%s", conv, tc.name), func(t *testing.T) {
				r := res
				if !tc.res {
					r = nil
				}
				want, wantMeans := epilogueRef(y, tc.scale, tc.bias, tc.act, r)
				e := &Epilogue[float64]{Scale: tc.scale, Bias: tc.bias, Act: tc.act, Residual: r}
				e32 := &Epilogue[float32]{Act: tc.act}
				if tc.scale != nil {
					e32.Scale = to32(tc.scale)
				}
				if tc.bias != nil {
					e32.Bias = to32(tc.bias)
				}
				if r != nil {
					e32.Residual = x32
				}
				if tc.means {
					e.Means = tensor.New[float64](3, cfg.Out)
					e32.Means = tensor.New[float32](3, cfg.Out)
				}
				got, err := conv.ForwardEval(x, e)
				require.NoError(t, err)
				require.Equal(t, []int{3, oh, ow, cfg.Out}, got.Shape)
				requireClose(t, "float64 output", want, got.Data, 1e-12)
				got32, err := conv32.ForwardEval(x32, e32)
				require.NoError(t, err)
				requireClose(t, "float32 output", want, tensor.Convert[float64](got32).Data, 2e-5)
				if tc.means {
					requireClose(t, "float64 means", wantMeans, e.Means.Data, 1e-12)
					requireClose(t, "float32 means", wantMeans, tensor.Convert[float64](e32.Means).Data, 2e-5)
				}
			})
		}
	}
}

func TestForwardEvalEpilogueErrors(t *testing.T) {
	conv := newTestConv(t, Conv2DConfig{In: 4, Out: 6, Kernel: 1}, 1)
	x := convRand(1, 2, 3, 3, 4)
	for name, e := range map[string]*Epilogue[float64]{
		"scale":    {Scale: make([]float64, 5)},
		"bias":     {Bias: make([]float64, 7)},
		"act":      {Act: Activation(42)},
		"residual": {Residual: tensor.New[float64](2, 3, 3, 4)},
		"means":    {Means: tensor.New[float64](3, 6)},
	} {
		_, err := conv.ForwardEval(x, e)
		require.Error(t, err, name)
		require.Contains(t, err.Error(), "Conv2D(4→6, k1, s1)", name)
	}
	_, err := conv.ForwardEval(convRand(1, 2, 3, 3, 5), &Epilogue[float64]{})
	var se *ShapeError
	require.ErrorAs(t, err, &se)
}

// TestEvalAffine: the folded affine map gives BatchNorm2D's Eval output.
// Both are float64 on O(1) values; folding the mean into the bias rounds
// differently from subtracting it first, by a few ulps.
func TestEvalAffine(t *testing.T) {
	bn := newTestBN(t, 6, 3)
	x := convRand(4, 2, 3, 3, 6)
	y, err := bn.Forward(x, Eval)
	require.NoError(t, err)
	scale, bias := make([]float64, 6), make([]float64, 6)
	bn.EvalAffine(scale, bias)
	got := make([]float64, x.Len())
	for i, v := range x.Data {
		got[i] = v*scale[i%6] + bias[i%6]
	}
	requireClose(t, "folded", y.Data, got, 1e-14)
}

// float32Conv returns a float32 convolution with c's configuration and
// parameters rounded to float32.
func float32Conv(t *testing.T, c *Conv2D[float64]) *Conv2D[float32] {
	t.Helper()
	c32, err := NewConv2D[float32](c.Config())
	require.NoError(t, err)
	for i, p := range c.Params() {
		c32.Params()[i].Value = tensor.Convert[float32](p.Value)
	}
	return c32
}

func to32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// TestForwardEvalOut: with Epilogue.Out the output lands there, resized,
// and equals the layer's own output exactly (the same computation), on
// every path: fused float32 products, the depthwise kernel, the float64
// fallback and a convolution with bias.
func TestForwardEvalOut(t *testing.T) {
	for ci, cfg := range epilogueConvs {
		cfg.Padding = max(cfg.Padding, PadSymmetric)
		c64 := newTestConv(t, cfg, uint64(ci))
		c32 := float32Conv(t, c64)
		x := convRand(uint64(200+ci), 2, 9, 9, cfg.In)
		scale, bias := gradcheck.Weights(cfg.Out, 1), gradcheck.Weights(cfg.Out, 2)

		own, err := c64.ForwardEval(x, &Epilogue[float64]{Scale: scale, Bias: bias, Act: SiLU})
		require.NoError(t, err)
		want := own.Clone()
		out := tensor.New[float64](1)
		got, err := c64.ForwardEval(x, &Epilogue[float64]{Scale: scale, Bias: bias, Act: SiLU, Out: out})
		require.NoError(t, err)
		require.Same(t, out, got)
		require.Equal(t, want.Shape, got.Shape)
		require.Equal(t, want.Data, got.Data)

		x32 := tensor.Convert[float32](x)
		e32 := Epilogue[float32]{Scale: to32(scale), Bias: to32(bias), Act: SiLU}
		own32, err := c32.ForwardEval(x32, &e32)
		require.NoError(t, err)
		want32 := own32.Clone()
		e32.Out = tensor.New[float32](1)
		got32, err := c32.ForwardEval(x32, &e32)
		require.NoError(t, err)
		require.Same(t, e32.Out, got32)
		require.Equal(t, want32.Data, got32.Data, "%v", c32)

		_, err = c64.ForwardEval(x, &Epilogue[float64]{Out: x})
		require.ErrorContains(t, err, "also the input")
	}
}

// TestForwardEvalStem runs stem-sized float32 convolutions through
// ForwardEval: the direct kernel (3 channels, stride 2, 16 or 32 outputs,
// input copied with its padding, widths with and without pixels left past
// the last group of eight) and the chunked im2col path (40 outputs, no
// direct kernel; its patches take several L2-sized chunks per core), both
// against Forward followed by the epilogue done the plain way (float64 on
// the float32 output). Both compute the same float32 products in other
// orders; the epilogue's vector SiLU is within 3 ulp, hence 2e-5 like
// TestForwardEvalEpilogue.
func TestForwardEvalStem(t *testing.T) {
	require.Greater(t, 2*112/2, evalColLimit/(112*27), "the 224 px cases must span several chunks per core")
	for i, c := range []struct {
		out, size int
		pad       Padding
	}{
		{16, 224, PadSame}, {32, 224, PadSymmetric}, {48, 65, PadSame}, {32, 66, PadSymmetric}, {40, 224, PadSymmetric},
	} {
		cfg := Conv2DConfig{In: 3, Out: c.out, Kernel: 3, Stride: 2, Padding: c.pad}
		conv := float32Conv(t, newTestConv(t, cfg, uint64(5+i)))
		scale, bias := gradcheck.Weights(c.out, 1), gradcheck.Weights(c.out, 2)
		for _, seed := range []uint64{6, 7} { // twice: the padded copy is reused
			x := tensor.Convert[float32](convRand(seed, 2, c.size, c.size, 3))
			y, err := conv.Forward(x, Eval)
			require.NoError(t, err)
			want, _ := epilogueRef(tensor.Convert[float64](y), scale, bias, SiLU, nil)
			got, err := conv.ForwardEval(x, &Epilogue[float32]{Scale: to32(scale), Bias: to32(bias), Act: SiLU})
			require.NoError(t, err)
			requireClose(t, fmt.Sprintf("%v %d px", conv, c.size), want, tensor.Convert[float64](got).Data, 2e-5)
		}
	}
}

// TestForwardEvalBadInput: inputs of the wrong shape get Forward's shape
// error on every path, in float32 (the fused paths) too.
func TestForwardEvalBadInput(t *testing.T) {
	for _, cfg := range epilogueConvs {
		cfg.Padding = max(cfg.Padding, PadSymmetric)
		c, err := NewConv2D[float32](cfg)
		require.NoError(t, err)
		e := &Epilogue[float32]{Act: SiLU}
		for _, shape := range [][]int{{2, 5, 5, cfg.In + 1}, {0, 5, 5, cfg.In}, {2, 0, 5, cfg.In}, {5, cfg.In}} {
			_, err := c.ForwardEval(tensor.New[float32](shape...), e)
			var se *ShapeError
			require.ErrorAs(t, err, &se, "%v %v", c, shape)
		}
	}
}
