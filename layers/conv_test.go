package layers

import (
	"errors"
	"fmt"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/effnet-go/effnet/internal/gradcheck"
	"github.com/effnet-go/effnet/internal/tensor"
)

// convRand returns a tensor of N(0, 1) values with a fixed seed.
func convRand(seed uint64, shape ...int) *tensor.Tensor[float64] {
	x, err := tensor.FromData(gradcheck.Weights(tensor.Numel(shape), seed), shape...)
	if err != nil {
		panic(err)
	}
	return x
}

// newTestConv returns a float64 convolution with random weights and bias.
func newTestConv(t testing.TB, cfg Conv2DConfig, seed uint64) *Conv2D[float64] {
	t.Helper()
	c, err := NewConv2D[float64](cfg)
	require.NoError(t, err)
	for i, p := range c.Params() {
		copy(p.Value.Data, gradcheck.Weights(p.Value.Len(), seed+uint64(i)))
	}
	return c
}

func TestConvPad(t *testing.T) {
	for _, tc := range []struct {
		p                  Padding
		in, k, s           int
		out, before, after int // after: the padding the last window reads
	}{
		// SAME, stride 2, even input: the extra padding goes after.
		{PadSame, 224, 3, 2, 112, 0, 1},
		{PadSame, 224, 5, 2, 112, 1, 2},
		{PadSame, 10, 5, 2, 5, 1, 2},
		// SAME, stride 2, odd input: symmetric again.
		{PadSame, 65, 3, 2, 33, 1, 1},
		{PadSame, 65, 5, 2, 33, 2, 2},
		// SAME, stride 1: (k-1)/2 each side like PyTorch for odd k.
		{PadSame, 7, 3, 1, 7, 1, 1},
		{PadSame, 7, 5, 1, 7, 2, 2},
		{PadSame, 8, 1, 2, 4, 0, 0},
		// SAME with an even kernel pads more after.
		{PadSame, 8, 2, 1, 8, 0, 1},
		// Symmetric: PyTorch's padding=k//2.
		{PadSymmetric, 224, 3, 2, 112, 1, 0}, // PyTorch pads 1 after too, but never reads it
		{PadSymmetric, 11, 3, 2, 6, 1, 1},
		{PadSymmetric, 10, 5, 2, 5, 2, 1}, // the last column of padding is never reached
		{PadSymmetric, 9, 5, 1, 9, 2, 2},
		{PadSymmetric, 7, 1, 2, 4, 0, 0},
	} {
		out, before := convPad(tc.p, tc.in, tc.k, tc.s)
		assert.Equal(t, tc.out, out, "%+v", tc)
		assert.Equal(t, tc.before, before, "%+v", tc)
		// The last window ends tc.after past the input's end (or inside it
		// when a strided kernel skips the last pixels).
		assert.Equal(t, tc.after, max(0, (out-1)*tc.s+tc.k-tc.in-before), "%+v", tc)
	}
}

// TestConvSameHandComputed sums a 4x4 image of ones with a 3x3 stride-2
// kernel of ones. SAME pads one row/column after (bottom/right) only, so the
// top-left window sees 9 ones and the bottom-right one 4; symmetric padding
// pads top/left as well and gives the mirror image.
func TestConvSameHandComputed(t *testing.T) {
	for _, tc := range []struct {
		pad    Padding
		groups int
		want   []float64
	}{
		{PadSame, 1, []float64{9, 6, 6, 4}},
		{PadSymmetric, 1, []float64{4, 6, 6, 9}},
		{PadSame, 2, []float64{9, 6, 6, 4}},
		{PadSymmetric, 2, []float64{4, 6, 6, 9}},
	} {
		// Two channels; with groups 1 the weight is block-diagonal so that
		// both the general and the depthwise path give per-channel sums.
		c, err := NewConv2D[float64](Conv2DConfig{In: 2, Out: 2, Kernel: 3, Stride: 2, Groups: tc.groups, Padding: tc.pad})
		require.NoError(t, err)
		w := c.Weight.Value
		for i := range w.Data {
			o, ci := i/(w.Len()/2), i%w.Shape[3]
			if tc.groups == 2 || o == ci {
				w.Data[i] = 1
			}
		}
		x := tensor.New[float64](1, 4, 4, 2)
		for i := range x.Data {
			x.Data[i] = 1
		}
		y, err := c.Forward(x, Eval)
		require.NoError(t, err)
		require.Equal(t, []int{1, 2, 2, 2}, y.Shape)
		for ch := 0; ch < 2; ch++ {
			got := []float64{y.Data[0+ch], y.Data[2+ch], y.Data[4+ch], y.Data[6+ch]}
			assert.Equal(t, tc.want, got, "%v groups %d channel %d", tc.pad, tc.groups, ch)
		}
	}
}

// convGradCases covers every path in both padding modes, odd and even
// sizes, strides 1 and 2, kernels 1, 2 (SAME only), 3 and 5, and groups.
var convGradCases = []struct {
	cfg     Conv2DConfig
	n, h, w int
}{
	// Pointwise path.
	{Conv2DConfig{In: 4, Out: 6, Kernel: 1, Bias: true}, 2, 3, 4},
	{Conv2DConfig{In: 5, Out: 3, Kernel: 1}, 1, 3, 3},
	{Conv2DConfig{In: 4, Out: 6, Kernel: 1, Bias: true, Padding: PadSame}, 2, 3, 4},
	// Depthwise path.
	{Conv2DConfig{In: 5, Out: 5, Kernel: 3, Groups: 5, Bias: true}, 2, 5, 6},
	{Conv2DConfig{In: 5, Out: 5, Kernel: 3, Stride: 2, Groups: 5}, 2, 6, 7},
	{Conv2DConfig{In: 5, Out: 5, Kernel: 3, Stride: 2, Groups: 5, Padding: PadSame}, 2, 6, 7},
	{Conv2DConfig{In: 5, Out: 5, Kernel: 3, Stride: 2, Groups: 5, Padding: PadSame, Bias: true}, 1, 7, 6},
	{Conv2DConfig{In: 6, Out: 6, Kernel: 5, Groups: 6, Bias: true}, 2, 5, 6},
	{Conv2DConfig{In: 6, Out: 6, Kernel: 5, Groups: 6, Padding: PadSame}, 1, 6, 5},
	{Conv2DConfig{In: 6, Out: 6, Kernel: 5, Stride: 2, Groups: 6, Bias: true}, 2, 7, 8},
	{Conv2DConfig{In: 6, Out: 6, Kernel: 5, Stride: 2, Groups: 6, Padding: PadSame, Bias: true}, 2, 8, 7},
	{Conv2DConfig{In: 4, Out: 4, Kernel: 2, Stride: 2, Groups: 4, Padding: PadSame}, 1, 5, 4},
	// Depthwise with a full block of 8 channels plus a remainder.
	{Conv2DConfig{In: 10, Out: 10, Kernel: 3, Stride: 2, Groups: 10, Padding: PadSame, Bias: true}, 1, 5, 6},
	{Conv2DConfig{In: 9, Out: 9, Kernel: 5, Groups: 9, Bias: true}, 1, 4, 5},
	{Conv2DConfig{In: 9, Out: 9, Kernel: 5, Stride: 2, Groups: 9}, 1, 6, 5},
	// General path: stem-like, strided 1x1, grouped, even kernel.
	{Conv2DConfig{In: 3, Out: 4, Kernel: 3, Stride: 2, Bias: true}, 2, 7, 8},
	{Conv2DConfig{In: 3, Out: 4, Kernel: 3, Stride: 2, Padding: PadSame}, 2, 8, 7},
	{Conv2DConfig{In: 3, Out: 4, Kernel: 3, Stride: 1, Padding: PadSame, Bias: true}, 1, 5, 5},
	{Conv2DConfig{In: 3, Out: 2, Kernel: 5, Stride: 2, Padding: PadSame, Bias: true}, 2, 6, 7},
	{Conv2DConfig{In: 3, Out: 2, Kernel: 5, Stride: 1}, 1, 5, 6},
	{Conv2DConfig{In: 4, Out: 6, Kernel: 1, Stride: 2, Bias: true}, 2, 5, 6},
	{Conv2DConfig{In: 4, Out: 6, Kernel: 1, Stride: 2, Padding: PadSame}, 1, 5, 6},
	{Conv2DConfig{In: 4, Out: 6, Kernel: 3, Groups: 2, Bias: true}, 2, 5, 4},
	{Conv2DConfig{In: 4, Out: 6, Kernel: 3, Stride: 2, Groups: 2, Padding: PadSame}, 2, 6, 5},
	{Conv2DConfig{In: 4, Out: 2, Kernel: 5, Stride: 2, Groups: 2, Bias: true}, 1, 7, 6},
	{Conv2DConfig{In: 4, Out: 8, Kernel: 3, Groups: 4}, 1, 4, 5}, // depth multiplier 2
	{Conv2DConfig{In: 2, Out: 3, Kernel: 2, Stride: 2, Padding: PadSame, Bias: true}, 1, 5, 4},
}

func TestConvGradients(t *testing.T) {
	for i, tc := range convGradCases {
		c := newTestConv(t, tc.cfg, uint64(100+i))
		t.Run(fmt.Sprintf("%s_%dx%dx%d", c, tc.n, tc.h, tc.w), func(t *testing.T) {
			checkLayerGrads(t, c, convRand(uint64(i), tc.n, tc.h, tc.w, tc.cfg.In), Train)
		})
	}
}

// TestConvChunked forces the general path to process one image at a time
// and checks that the result matches the single-pass computation exactly
// (the same products summed in the same order), and the gradients too.
func TestConvChunked(t *testing.T) {
	cfg := Conv2DConfig{In: 4, Out: 6, Kernel: 3, Stride: 2, Groups: 2, Bias: true, Padding: PadSame}
	whole, chunked := newTestConv(t, cfg, 1), newTestConv(t, cfg, 1)
	chunked.colLimit = 1
	x := convRand(2, 3, 7, 6, 4)
	dy := convRand(3, 3, 4, 3, 6)
	for _, c := range []*Conv2D[float64]{whole, chunked} {
		_, err := c.Forward(x, Train)
		require.NoError(t, err)
		_, err = c.Backward(dy)
		require.NoError(t, err)
	}
	assert.Equal(t, 1, chunked.colChunk())
	assert.Equal(t, 3, whole.colChunk())
	assert.Equal(t, whole.out.Data, chunked.out.Data)
	assert.Equal(t, whole.dx.Data, chunked.dx.Data)
	assert.Equal(t, whole.Weight.Grad.Data, chunked.Weight.Grad.Data)
	assert.Equal(t, whole.Bias.Grad.Data, chunked.Bias.Grad.Data)

	checkLayerGrads(t, chunked, x, Train)
}

// TestConvReference compares with PyTorch float64. Both sides compute in
// float64 and differ only in summation order, which gives relative
// differences of order 1e-15 on these O(1) values with at most 8·9 = 72
// terms per output; 1e-10 leaves five orders of magnitude for that while
// any indexing or padding mistake gives O(1) differences.
func TestConvReference(t *testing.T) {
	const tol = 1e-10
	for _, tc := range []struct {
		name string
		cfg  Conv2DConfig
		path convPath
	}{
		{"conv3x3", Conv2DConfig{In: 8, Out: 16, Kernel: 3, Stride: 2, Bias: true}, convPathGeneral},
		{"dwconv5x5", Conv2DConfig{In: 16, Out: 16, Kernel: 5, Groups: 16, Bias: true}, convPathDepthwise},
		{"dwconv5x5s2", Conv2DConfig{In: 16, Out: 16, Kernel: 5, Stride: 2, Groups: 16, Bias: true}, convPathDepthwise},
		{"conv1x1", Conv2DConfig{In: 16, Out: 24, Kernel: 1, Bias: true}, convPathPointwise},
		{"conv1x1nb", Conv2DConfig{In: 16, Out: 24, Kernel: 1}, convPathPointwise},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewConv2D[float64](tc.cfg)
			require.NoError(t, err)
			require.Equal(t, tc.path, c.path)
			c.Weight.Value.CopyFrom(refOHWI(t, tc.name+".weight"))
			if tc.cfg.Bias {
				c.Bias.Value.CopyFrom(ref(t, tc.name+".bias"))
			}
			y, err := c.Forward(refNHWC(t, tc.name+".input"), Train)
			require.NoError(t, err)
			want := refNHWC(t, tc.name+".output")
			require.Equal(t, want.Shape, y.Shape)
			requireClose(t, "output", want.Data, y.Data, tol)

			dx, err := c.Backward(refNHWC(t, tc.name+".grad_output"))
			require.NoError(t, err)
			requireClose(t, "grad_input", refNHWC(t, tc.name+".grad_input").Data, dx.Data, tol)
			requireClose(t, "grad_weight", refOHWI(t, tc.name+".grad_weight").Data, c.Weight.Grad.Data, tol)
			if tc.cfg.Bias {
				requireClose(t, "grad_bias", ref(t, tc.name+".grad_bias").Data, c.Bias.Grad.Data, tol)
			}
		})
	}
}

// TestConvFloat32 runs each path in float32 and float64 on the same data.
// Inputs, weights and upstream gradients are N(0,1); an output sums at most
// k·k·In/Groups = 5·5·8 = 200 products and a weight gradient N·OH·OW ≤ 2·16·16
// = 512, so float32 rounding (6e-8 per operation) grows to a few 1e-6
// relative to the sums' magnitudes. 1e-4 of max(1, |value|) is safe for that
// and still catches any float32-only bug, which would be O(1).
func TestConvFloat32(t *testing.T) {
	const tol = 1e-4
	for i, tc := range []struct {
		cfg     Conv2DConfig
		n, h, w int
	}{
		{Conv2DConfig{In: 16, Out: 24, Kernel: 1, Bias: true}, 2, 16, 16},
		{Conv2DConfig{In: 24, Out: 24, Kernel: 3, Stride: 2, Groups: 24, Bias: true, Padding: PadSame}, 2, 16, 15},
		{Conv2DConfig{In: 20, Out: 20, Kernel: 5, Groups: 20}, 2, 13, 16},
		{Conv2DConfig{In: 3, Out: 16, Kernel: 3, Stride: 2, Bias: true}, 2, 16, 16},
		{Conv2DConfig{In: 8, Out: 12, Kernel: 5, Stride: 2, Groups: 2, Padding: PadSame}, 2, 16, 15},
	} {
		c64 := newTestConv(t, tc.cfg, uint64(10*i))
		c32, err := NewConv2D[float32](tc.cfg)
		require.NoError(t, err)
		for j, p := range c64.Params() {
			c32.Params()[j].Value = tensor.Convert[float32](p.Value)
		}
		x := convRand(uint64(i), tc.n, tc.h, tc.w, tc.cfg.In)
		y64, err := c64.Forward(x, Train)
		require.NoError(t, err)
		y32, err := c32.Forward(tensor.Convert[float32](x), Train)
		require.NoError(t, err)
		requireClose(t, c64.String()+" output", y64.Data, tensor.Convert[float64](y32).Data, tol)

		dy := convRand(uint64(i+50), y64.Shape...)
		dx64, err := c64.Backward(dy)
		require.NoError(t, err)
		dx32, err := c32.Backward(tensor.Convert[float32](dy))
		require.NoError(t, err)
		requireClose(t, c64.String()+" grad_input", dx64.Data, tensor.Convert[float64](dx32).Data, tol)
		for j, p := range c64.Params() {
			requireClose(t, c64.String()+" grad "+p.Name, p.Grad.Data, tensor.Convert[float64](c32.Params()[j].Grad).Data, tol)
		}
	}
}

// TestConvBackwardAccumulates checks that Backward adds into Param.Grad and
// can be repeated after one Forward (the general path must rebuild its
// patches, which the first Backward overwrote).
func TestConvBackwardAccumulates(t *testing.T) {
	for i, tc := range []Conv2DConfig{
		{In: 4, Out: 6, Kernel: 1, Bias: true},
		{In: 4, Out: 4, Kernel: 3, Groups: 4, Bias: true},
		{In: 4, Out: 6, Kernel: 3, Stride: 2, Bias: true},
	} {
		c := newTestConv(t, tc, uint64(i))
		y, err := c.Forward(convRand(1, 2, 5, 5, 4), Train)
		require.NoError(t, err)
		dy := convRand(2, y.Shape...)
		dx1, err := c.Backward(dy)
		require.NoError(t, err)
		dx1 = dx1.Clone()
		once := [][]float64{}
		for _, p := range c.Params() {
			once = append(once, append([]float64(nil), p.Grad.Data...))
		}
		dx2, err := c.Backward(dy)
		require.NoError(t, err)
		// The input gradient is recomputed by the same operations, so it
		// is identical. The matrix products add into the existing gradient
		// term by term rather than adding a finished sum, so doubling holds
		// up to float64 rounding of O(1) values: 1e-12.
		assert.Equal(t, dx1.Data, dx2.Data, c.String())
		for j, p := range c.Params() {
			for k := range once[j] {
				once[j][k] *= 2
			}
			requireClose(t, c.String()+" "+p.Name, once[j], p.Grad.Data, 1e-12)
		}
	}
}

func TestConvErrors(t *testing.T) {
	for _, cfg := range []Conv2DConfig{
		{In: 0, Out: 4, Kernel: 3},
		{In: 4, Out: -1, Kernel: 3},
		{In: 4, Out: 4, Kernel: 0},
		{In: 4, Out: 4, Kernel: 3, Stride: -1},
		{In: 4, Out: 4, Kernel: 3, Groups: -2},
		{In: 4, Out: 6, Kernel: 3, Groups: 4},
		{In: 6, Out: 4, Kernel: 3, Groups: 4},
		{In: 4, Out: 4, Kernel: 2},
		{In: 4, Out: 4, Kernel: 3, Padding: Padding(7)},
	} {
		_, err := NewConv2D[float32](cfg)
		assert.Error(t, err, "%+v", cfg)
	}

	c, err := NewConv2D[float32](Conv2DConfig{In: 16, Out: 24, Kernel: 1})
	require.NoError(t, err)
	assert.Equal(t, "Conv2D(16→24, k1, s1)", c.String())
	_, err = c.Backward(tensor.New[float32](1, 2, 2, 24))
	assert.ErrorContains(t, err, "Train-mode Forward")

	for _, shape := range [][]int{{2, 4, 4, 8}, {4, 4, 16}, {0, 4, 4, 16}} {
		_, err := c.Forward(tensor.New[float32](shape...), Train)
		var se *ShapeError
		require.True(t, errors.As(err, &se), "%v", shape)
		assert.Equal(t, "Conv2D(16→24, k1, s1)", se.Layer)
		assert.Equal(t, "[N H W 16]", se.Want)
		assert.Equal(t, "input", se.Argument)
		assert.Equal(t, shape, se.Got)
	}

	_, err = c.Forward(tensor.New[float32](2, 3, 3, 16), Train)
	require.NoError(t, err)
	_, err = c.Backward(tensor.New[float32](2, 3, 3, 16))
	var se *ShapeError
	require.True(t, errors.As(err, &se))
	assert.Equal(t, "[2 3 3 24]", se.Want)
	assert.Equal(t, "gradient", se.Argument)

	// An Eval-mode Forward keeps no input, so Backward must refuse.
	_, err = c.Forward(tensor.New[float32](2, 3, 3, 16), Eval)
	require.NoError(t, err)
	_, err = c.Backward(tensor.New[float32](2, 3, 3, 24))
	assert.ErrorContains(t, err, "Train-mode Forward")

	dw, err := NewConv2D[float32](Conv2DConfig{In: 8, Out: 8, Kernel: 5, Stride: 2, Groups: 8, Padding: PadSame})
	require.NoError(t, err)
	assert.Equal(t, "Conv2D(8→8, k5, s2, g8, same)", dw.String())
	oh, ow := dw.OutputSize(224, 225)
	assert.Equal(t, []int{112, 113}, []int{oh, ow})
}

// TestConvNoAllocs checks that a warm layer allocates nothing per call on
// each of the three paths: buffers are reused, and the loop bodies handed
// to parallel.For are method values made once in NewConv2D.
func TestConvNoAllocs(t *testing.T) {
	if convRaceEnabled() {
		t.Skip("the race detector adds its own allocations")
	}
	for _, tc := range []struct {
		cfg  Conv2DConfig
		n, h int
	}{
		{Conv2DConfig{In: 8, Out: 8, Kernel: 1, Bias: true}, 1, 4},            // pointwise
		{Conv2DConfig{In: 8, Out: 8, Kernel: 3, Groups: 8, Bias: true}, 1, 4}, // depthwise
		{Conv2DConfig{In: 3, Out: 8, Kernel: 3, Stride: 2, Bias: true}, 1, 4}, // im2col
	} {
		c, err := NewConv2D[float32](tc.cfg)
		require.NoError(t, err)
		x := tensor.New[float32](tc.n, tc.h, tc.h, tc.cfg.In)
		oh, ow := c.OutputSize(tc.h, tc.h)
		dy := tensor.New[float32](tc.n, oh, ow, tc.cfg.Out)
		step := func() {
			_, err := c.Forward(x, Train)
			require.NoError(t, err)
			_, err = c.Backward(dy)
			require.NoError(t, err)
		}
		step()
		assert.Zero(t, testing.AllocsPerRun(10, step), c.String())
	}
}

// convRaceEnabled reports whether the test binary was built with -race.
func convRaceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

func ExampleConv2D() {
	// The stem of a TensorFlow-trained EfficientNet: 3x3, stride 2, SAME.
	stem, err := NewConv2D[float32](Conv2DConfig{In: 3, Out: 32, Kernel: 3, Stride: 2, Padding: PadSame})
	if err != nil {
		panic(err)
	}
	x := NewTensor[float32](1, 225, 224, 3)
	y, err := stem.Forward(x, Eval)
	if err != nil {
		panic(err)
	}
	fmt.Println(stem, y.Shape)
	_, err = stem.Forward(NewTensor[float32](1, 224, 224, 4), Eval)
	fmt.Println(err)
	// Output:
	// Conv2D(3→32, k3, s2, same) [1 113 112 32]
	// Conv2D(3→32, k3, s2, same): input has shape [1 224 224 4], want [N H W 3]
}
