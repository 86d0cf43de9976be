package layers

import (
	"fmt"
	"runtime"

	"github.com/effnet-go/effnet/internal/depthwise"
	"github.com/effnet-go/effnet/internal/gemm"
	"github.com/effnet-go/effnet/internal/parallel"
	"github.com/effnet-go/effnet/internal/tensor"
)

// Conv2DConfig describes a 2-d convolution over NHWC activations.
type Conv2DConfig struct {
	In, Out int     // input and output channels
	Kernel  int     // square kernel size
	Stride  int     // 0 means 1
	Groups  int     // 0 means 1; In for depthwise
	Bias    bool    // add a learnable per-channel bias
	Padding Padding // PadSymmetric (PyTorch) or PadSame (TensorFlow)
}

// Conv2D is a grouped 2-d convolution, y = conv(x, W) + b, on NHWC input
// [N, H, W, In] with OHWI weights [Out, k, k, In/Groups], giving
// [N, OH, OW, Out].
//
// Three kernels cover EfficientNet's convolutions. A 1x1 stride-1 dense
// convolution is a single matrix product over all N·H·W pixels, reading the
// input in place. A depthwise convolution (Groups == In == Out) is a direct
// loop along the contiguous channel axis, since as a matrix product it
// would have an inner dimension of only k·k. Everything else (the stem,
// strided 1x1, grouped convolutions) goes through im2col and a matrix
// product.
//
// Backward reads the input of the last Train-mode Forward, which the caller
// must leave unchanged in between.
type Conv2D[T Float] struct {
	Weight *Param[T] // [Out, k, k, In/Groups]
	Bias   *Param[T] // [Out], nil without bias
	// SkipInputGrad makes Backward compute only the parameter gradients
	// and return a nil input gradient: for a network's first layer, whose
	// input (the images) needs none. It saves the stem's input-gradient
	// product and col2im pass. The depthwise kernels compute both
	// gradients in one pass and ignore it.
	SkipInputGrad bool
	// GradOut, when not nil, receives the input gradient of Backward
	// (resized to the input's shape) in place of the layer's own tensor,
	// so that layers whose gradients are not needed at the same time can
	// share one buffer. It must not be the gradient passed to Backward.
	GradOut *Tensor[T]

	cfg  Conv2DConfig
	path convPath

	// Geometry of the last Forward.
	n, h, w, oh, ow, padT, padL int

	x     *Tensor[T] // input of the last Train-mode Forward; nil otherwise
	out   *Tensor[T]
	dx    *Tensor[T] // where the running Backward writes: ownDX or GradOut
	ownDX *Tensor[T]

	colLimit int       // im2col buffer bound in elements; convColLimit, lowered by tests
	col      []T       // im2col rows (general path), reused as the column gradient
	colValid bool      // col still holds the whole batch's im2col from Forward
	wt       []T       // depthwise weight transposed to [k·k, C]
	part     []T       // per-block partial weight and bias gradients (depthwise)
	sums     []float64 // per-block column sums (bias gradient)
	dw32     *depthwise32

	// Operands of the parallel loop bodies of fillBias, addColumnSums,
	// im2col and col2im, set only for the duration of one call. The bodies
	// are method values made once in NewConv2D, so that handing them to
	// parallel.For does not allocate a closure per call.
	opDst, opSrc                             []T
	opCols, opRows, opBlocks, opB0           int
	clearRows, biasRows, colSums, im2colRows func(lo, hi int)
	col2imRows                               func(lo, hi int)

	// epi is the epilogue pass of a running ForwardEval; epiRows and
	// epiSamples are its loop bodies, made once like those above.
	epi                 epilogueRun[T]
	epiRows, epiSamples func(lo, hi int)
	epiZero             []T       // always zero; see epilogueRun
	epiZero2            []float64 // always zero
	epiSums             []float64
	gemmEpi             gemm.Epilogue // the float32 epilogue of forwardEvalFused
	meansEpi            Epilogue[T]   // Means alone, for means
	ev                  evalIm2col[T] // the running im2col ForwardEval, its shares
	evParts             []evalIm2colPart[T]
	evRows              func(lo, hi int)
	dir                 evalDirect[T] // the running direct ForwardEval
	dirPad, dirRows     func(lo, hi int)
}

type convPath int

const (
	convPathPointwise convPath = iota
	convPathDepthwise
	convPathGeneral
)

// convColLimit bounds the im2col buffer (in elements). Larger batches are
// processed in chunks of whole images so that the buffer stays a few tens
// of megabytes rather than growing with the batch.
const convColLimit = 1 << 22

// NewConv2D returns a convolution with zero weights; initialise them with
// InitKaimingNormalFanOut or load them from a checkpoint.
func NewConv2D[T Float](cfg Conv2DConfig) (*Conv2D[T], error) {
	if cfg.Stride == 0 {
		cfg.Stride = 1
	}
	if cfg.Groups == 0 {
		cfg.Groups = 1
	}
	switch {
	case cfg.In <= 0 || cfg.Out <= 0:
		return nil, fmt.Errorf("layers: Conv2D channels must be positive, got In=%d Out=%d", cfg.In, cfg.Out)
	case cfg.Kernel <= 0:
		return nil, fmt.Errorf("layers: Conv2D kernel must be positive, got %d", cfg.Kernel)
	case cfg.Stride < 0:
		return nil, fmt.Errorf("layers: Conv2D stride must be positive, got %d", cfg.Stride)
	case cfg.Groups < 0:
		return nil, fmt.Errorf("layers: Conv2D groups must be positive, got %d", cfg.Groups)
	case cfg.In%cfg.Groups != 0 || cfg.Out%cfg.Groups != 0:
		return nil, fmt.Errorf("layers: Conv2D channels In=%d and Out=%d must both be divisible by Groups=%d", cfg.In, cfg.Out, cfg.Groups)
	case !cfg.Padding.valid():
		return nil, fmt.Errorf("layers: Conv2D has unknown padding %v", cfg.Padding)
	case cfg.Padding == PadSymmetric && cfg.Kernel%2 == 0:
		return nil, fmt.Errorf("layers: Conv2D symmetric padding needs an odd kernel, got %d (use PadSame)", cfg.Kernel)
	}
	c := &Conv2D[T]{
		cfg:      cfg,
		colLimit: convColLimit,
		Weight:   newParam[T]("weight", cfg.Out, cfg.Kernel, cfg.Kernel, cfg.In/cfg.Groups),
	}
	if cfg.Bias {
		c.Bias = newParam[T]("bias", cfg.Out)
	}
	switch {
	case cfg.Kernel == 1 && cfg.Stride == 1 && cfg.Groups == 1:
		c.path = convPathPointwise
	case cfg.Groups == cfg.In && cfg.Groups == cfg.Out:
		c.path = convPathDepthwise
	default:
		c.path = convPathGeneral
	}
	c.clearRows = c.clearRowsRange
	c.biasRows = c.biasRowsRange
	c.colSums = c.colSumsRange
	c.im2colRows = c.im2colRange
	c.col2imRows = c.col2imRange
	c.evRows = c.evalIm2colRange
	c.dirPad, c.dirRows = c.dirPadRange, c.dirRowsRange
	c.epiRows = c.epi.rows
	c.epiSamples = c.epi.samples
	return c, nil
}

// Config returns the configuration with defaults filled in.
func (c *Conv2D[T]) Config() Conv2DConfig { return c.cfg }

// Params returns the weight and, if present, the bias.
func (c *Conv2D[T]) Params() []*Param[T] {
	if c.Bias == nil {
		return []*Param[T]{c.Weight}
	}
	return []*Param[T]{c.Weight, c.Bias}
}

// OutputSize returns the output height and width for an input of h×w.
func (c *Conv2D[T]) OutputSize(h, w int) (oh, ow int) {
	oh, _ = convPad(c.cfg.Padding, h, c.cfg.Kernel, c.cfg.Stride)
	ow, _ = convPad(c.cfg.Padding, w, c.cfg.Kernel, c.cfg.Stride)
	return oh, ow
}

// String names the layer in errors, e.g. "Conv2D(16→24, k1, s1)".
func (c *Conv2D[T]) String() string {
	s := fmt.Sprintf("Conv2D(%d→%d, k%d, s%d", c.cfg.In, c.cfg.Out, c.cfg.Kernel, c.cfg.Stride)
	if c.cfg.Groups > 1 {
		s += fmt.Sprintf(", g%d", c.cfg.Groups)
	}
	if c.cfg.Padding == PadSame {
		s += ", same"
	}
	return s + ")"
}

// Forward convolves x [N, H, W, In] and returns [N, OH, OW, Out], a tensor
// owned by the layer and overwritten by the next Forward.
func (c *Conv2D[T]) Forward(x *Tensor[T], mode Mode) (*Tensor[T], error) {
	if x.Dims() != 4 || x.Shape[3] != c.cfg.In || x.Shape[0] < 1 || x.Shape[1] < 1 || x.Shape[2] < 1 {
		return nil, &ShapeError{Layer: c.String(), Want: fmt.Sprintf("[N H W %d]", c.cfg.In), Got: x.Shape, Argument: "input"}
	}
	c.setGeometry(x)
	c.out = tensor.Ensure(c.out, c.n, c.oh, c.ow, c.cfg.Out)
	c.x = nil
	switch c.path {
	case convPathPointwise:
		c.forwardPointwise(x)
	case convPathDepthwise:
		c.forwardDepthwise(x)
	default:
		c.forwardGeneral(x)
	}
	if mode == Train {
		c.x = x
	}
	return c.out, nil
}

// setGeometry records the sizes, output sizes and padding of a call on
// the valid input x.
func (c *Conv2D[T]) setGeometry(x *Tensor[T]) {
	k, s := c.cfg.Kernel, c.cfg.Stride
	c.n, c.h, c.w = x.Shape[0], x.Shape[1], x.Shape[2]
	c.oh, c.padT = convPad(c.cfg.Padding, c.h, k, s)
	c.ow, c.padL = convPad(c.cfg.Padding, c.w, k, s)
}

// Backward takes dy [N, OH, OW, Out] for the last Train-mode Forward, adds
// the weight and bias gradients into their Grad and returns the input
// gradient [N, H, W, In], owned by the layer.
func (c *Conv2D[T]) Backward(dy *Tensor[T]) (*Tensor[T], error) {
	if c.x == nil {
		return nil, fmt.Errorf("layers: %s: Backward without a preceding Train-mode Forward", c)
	}
	if !c.x.HasShape(c.n, c.h, c.w, c.cfg.In) {
		return nil, fmt.Errorf("layers: %s: input of the last Forward was reshaped to %v before Backward", c, c.x.Shape)
	}
	if !dy.HasShape(c.n, c.oh, c.ow, c.cfg.Out) {
		return nil, &ShapeError{Layer: c.String(), Want: fmt.Sprintf("[%d %d %d %d]", c.n, c.oh, c.ow, c.cfg.Out), Got: dy.Shape, Argument: "gradient"}
	}
	if c.GradOut != nil && c.GradOut == dy {
		return nil, fmt.Errorf("layers: %s: GradOut is also the gradient passed to Backward", c)
	}
	skip := c.SkipInputGrad && c.path != convPathDepthwise
	if !skip {
		if c.GradOut != nil {
			c.GradOut.Resize(c.n, c.h, c.w, c.cfg.In)
			c.dx = c.GradOut
		} else {
			c.ownDX = tensor.Ensure(c.ownDX, c.n, c.h, c.w, c.cfg.In)
			c.dx = c.ownDX
		}
	}
	switch c.path {
	case convPathPointwise:
		c.backwardPointwise(dy, skip)
	case convPathDepthwise:
		c.backwardDepthwise(dy)
	default:
		c.backwardGeneral(dy, skip)
	}
	if c.SkipInputGrad {
		return nil, nil
	}
	return c.dx, nil
}

// convBlocks is the number of row blocks for reductions that keep one
// partial result per block: one per core, since parallel.For runs at most
// that many at once, and never more than there are rows.
func convBlocks(rows int) int {
	return max(1, min(rows, runtime.GOMAXPROCS(0)))
}

// convGrain returns a parallel.For grain holding about 16k multiply-adds,
// below which scheduling a goroutine costs more than the work.
func convGrain(workPerItem int) int {
	return max(1, (1<<14)/max(1, workPerItem))
}

// convRange returns the output indices o in [0, outSize) whose input index
// o·stride - pad + tap lies in [0, in): the taps that do not fall into the
// padding.
func convRange(outSize, in, pad, tap, stride int) (lo, hi int) {
	d := pad - tap // o·stride >= d and o·stride <= in-1+d
	if d > 0 {
		lo = (d + stride - 1) / stride
	}
	e := in - 1 + d
	if e < 0 {
		return 0, 0
	}
	hi = min(e/stride+1, outSize)
	if lo > hi {
		return 0, 0
	}
	return lo, hi
}

// convAdd computes dst[i] += a[i].
func convAdd[T Float](dst, a []T) {
	a = a[:len(dst)]
	for i := range dst {
		dst[i] += a[i]
	}
}

// fillBias writes the bias into every row of out (rows×Out), or zeros when
// there is no bias.
func (c *Conv2D[T]) fillBias(out []T) {
	cols := c.cfg.Out
	rows := len(out) / cols
	c.opDst, c.opCols = out, cols
	if c.Bias == nil {
		parallel.For(rows, convGrain(cols), c.clearRows)
	} else {
		parallel.For(rows, convGrain(cols), c.biasRows)
	}
	c.opDst = nil
}

// clearRowsRange zeroes rows [lo, hi) of c.opDst (c.opCols wide).
func (c *Conv2D[T]) clearRowsRange(lo, hi int) {
	cols := c.opCols
	clear(c.opDst[lo*cols : hi*cols])
}

// biasRowsRange copies the bias into rows [lo, hi) of c.opDst.
func (c *Conv2D[T]) biasRowsRange(lo, hi int) {
	cols, out, b := c.opCols, c.opDst, c.Bias.Value.Data
	for r := lo; r < hi; r++ {
		copy(out[r*cols:(r+1)*cols], b)
	}
}

// addColumnSums adds the column sums of m (rows×cols) into dst, summing in
// float64 per row block: bias gradients add up to a million terms per
// channel, where float32 accumulation would lose several digits.
func (c *Conv2D[T]) addColumnSums(dst []T, m []T, cols int) {
	rows := len(m) / cols
	p := convBlocks(rows)
	c.sums = convEnsure(c.sums, p*cols)
	c.opSrc, c.opCols, c.opRows, c.opBlocks = m, cols, rows, p
	parallel.For(p, 1, c.colSums)
	c.opSrc = nil
	for j := range dst {
		s := 0.0
		for b := 0; b < p; b++ {
			s += c.sums[b*cols+j]
		}
		dst[j] += T(s)
	}
}

// convEnsure returns buf with length n, reallocating only when it is too
// small.
func convEnsure[E any](buf []E, n int) []E {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]E, n)
}

// Pointwise (1x1, stride 1, dense): Y = X·Wᵀ over all N·H·W pixels.

func (c *Conv2D[T]) forwardPointwise(x *Tensor[T]) {
	in, out := c.cfg.In, c.cfg.Out
	rows := c.n * c.h * c.w
	var beta T
	if c.Bias != nil {
		c.fillBias(c.out.Data)
		beta = 1
	}
	gemm.Gemm(false, true, rows, out, in, 1, x.Data, in, c.Weight.Value.Data, in, beta, c.out.Data, out)
}

func (c *Conv2D[T]) backwardPointwise(dy *Tensor[T], skipInputGrad bool) {
	in, out := c.cfg.In, c.cfg.Out
	rows := c.n * c.h * c.w
	if !skipInputGrad {
		gemm.Gemm(false, false, rows, in, out, 1, dy.Data, out, c.Weight.Value.Data, in, 0, c.dx.Data, in)
	}
	gemm.Gemm(true, false, out, in, rows, 1, dy.Data, out, c.x.Data, in, 1, c.Weight.Grad.Data, in)
	if c.Bias != nil {
		c.addColumnSums(c.Bias.Grad.Data, dy.Data, out)
	}
}

// Depthwise (Groups == In == Out): each channel convolved with its own k×k
// filter, vectorised along the contiguous channel axis.

func (c *Conv2D[T]) transposeDepthwise() {
	C, kk := c.cfg.In, c.cfg.Kernel*c.cfg.Kernel
	c.wt = convEnsure(c.wt, kk*C)
	w := c.Weight.Value.Data
	for ch := 0; ch < C; ch++ {
		for t := 0; t < kk; t++ {
			c.wt[t*C+ch] = w[ch*kk+t]
		}
	}
}

// float32 depthwise convolutions run on the vector kernels of
// internal/depthwise (see depthwise32). The plain loops below serve the
// other element type, float64, which exists for gradient checks and
// reference comparisons, so they are written for clarity, not speed; each
// channel accumulates its taps in the same order as the fast kernels.
func (c *Conv2D[T]) forwardDepthwise(x *Tensor[T]) {
	if d := c.depthwise32(); d != nil {
		c.transposeDepthwise()
		var bias []T
		if c.Bias != nil {
			bias = c.Bias.Value.Data
		}
		d.forward(any(c.wt).([]float32), any(x.Data).([]float32), any(c.out.Data).([]float32), any(bias).([]float32))
		return
	}
	C, k, s := c.cfg.In, c.cfg.Kernel, c.cfg.Stride
	h, w, oh, ow, padT, padL := c.h, c.w, c.oh, c.ow, c.padT, c.padL
	c.transposeDepthwise()
	wt, xd, od := c.wt, x.Data, c.out.Data
	var bias []T
	if c.Bias != nil {
		bias = c.Bias.Value.Data
	}
	parallel.For(c.n*oh, convGrain(ow*C*k*k), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			b, oy := r/oh, r%oh
			iy0 := oy*s - padT
			ky0, ky1 := max(0, -iy0), min(k, h-iy0)
			for ox := 0; ox < ow; ox++ {
				ix0 := ox*s - padL
				kx0, kx1 := max(0, -ix0), min(k, w-ix0)
				dst := od[(r*ow+ox)*C : (r*ow+ox+1)*C]
				// Offset of tap (ky, kx0) channel 0; only valid taps are read.
				x0 := ((b*h+iy0+ky0)*w + ix0 + kx0) * C
				w0 := (ky0*k + kx0) * C
				for ch := 0; ch < C; ch++ {
					var a T
					if bias != nil {
						a = bias[ch]
					}
					for ky := ky0; ky < ky1; ky++ {
						xo := x0 + (ky-ky0)*w*C + ch
						wo := w0 + (ky-ky0)*k*C + ch
						for kx := kx0; kx < kx1; kx++ {
							a += xd[xo] * wt[wo]
							xo += C
							wo += C
						}
					}
					dst[ch] = a
				}
			}
		}
	})
}

func (c *Conv2D[T]) backwardDepthwise(dy *Tensor[T]) {
	if d := c.depthwise32(); d != nil {
		c.transposeDepthwise()
		var gb []T
		if c.Bias != nil {
			gb = c.Bias.Grad.Data
		}
		d.backward(any(c.wt).([]float32), any(c.x.Data).([]float32), any(dy.Data).([]float32), any(c.dx.Data).([]float32),
			any(c.Weight.Grad.Data).([]float32), any(gb).([]float32))
		return
	}
	C, k, s := c.cfg.In, c.cfg.Kernel, c.cfg.Stride
	kk := k * k
	h, w, oh, ow, padT, padL := c.h, c.w, c.oh, c.ow, c.padT, c.padL
	c.transposeDepthwise()
	wt, xd, dyd, dxd := c.wt, c.x.Data, dy.Data, c.dx.Data

	// Input gradient, gathered per input pixel so that rows are
	// independent: dx[iy, ix] = Σ dy[oy, ox]·w[ky, kx] over the taps with
	// oy·s - padT + ky = iy and ox·s - padL + kx = ix. Stepping ky (kx) by s
	// steps oy (ox) back by one.
	parallel.For(c.n*h, convGrain(w*C*kk/(s*s)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			b, iy := r/h, r%h
			ty := iy + padT
			// Taps ky ≡ ty (mod s) with 0 <= (ty-ky)/s < oh.
			ky0 := ty % s
			if lowest := ty - s*(oh-1); lowest > ky0 {
				ky0 += (lowest - ky0 + s - 1) / s * s
			}
			ky1 := min(k, ty+1)
			for ix := 0; ix < w; ix++ {
				dst := dxd[(r*w+ix)*C : (r*w+ix+1)*C]
				tx := ix + padL
				kx0 := tx % s
				if lowest := tx - s*(ow-1); lowest > kx0 {
					kx0 += (lowest - kx0 + s - 1) / s * s
				}
				kx1 := min(k, tx+1)
				for ch := 0; ch < C; ch++ {
					var a T
					for ky := ky0; ky < ky1; ky += s {
						dyo := ((b*oh+(ty-ky)/s)*ow+(tx-kx0)/s)*C + ch
						wo := (ky*k+kx0)*C + ch
						for kx := kx0; kx < kx1; kx += s {
							a += dyd[dyo] * wt[wo]
							dyo -= C
							wo += s * C
						}
					}
					dst[ch] = a
				}
			}
		}
	})

	// Weight and bias gradients, one partial [k·k+1, C] per row block so
	// that workers never write the same memory.
	rows := c.n * oh
	p := convBlocks(rows)
	stride := (kk + 1) * C
	c.part = convEnsure(c.part, p*stride)
	parallel.For(p, 1, func(lo, hi int) {
		for blk := lo; blk < hi; blk++ {
			part := c.part[blk*stride : (blk+1)*stride]
			clear(part)
			pb := part[kk*C:]
			for r := blk * rows / p; r < (blk+1)*rows/p; r++ {
				b, oy := r/oh, r%oh
				dyrow := dyd[r*ow*C : (r+1)*ow*C]
				for ox := 0; ox < ow; ox++ {
					convAdd(pb, dyrow[ox*C:(ox+1)*C])
				}
				for ky := 0; ky < k; ky++ {
					iy := oy*s - padT + ky
					if iy < 0 || iy >= h {
						continue
					}
					xrow := xd[(b*h+iy)*w*C : (b*h+iy+1)*w*C]
					for kx := 0; kx < k; kx++ {
						pw := part[(ky*k+kx)*C : (ky*k+kx+1)*C]
						lo, hi := convRange(ow, w, padL, kx, s)
						if lo >= hi {
							continue
						}
						ix0 := lo*s - padL + kx
						for ch := 0; ch < C; ch++ {
							var a T
							dyo, xo := lo*C+ch, ix0*C+ch
							for ox := lo; ox < hi; ox++ {
								a += dyrow[dyo] * xrow[xo]
								dyo += C
								xo += s * C
							}
							pw[ch] += a
						}
					}
				}
			}
		}
	})
	gw := c.Weight.Grad.Data
	for blk := 0; blk < p; blk++ {
		part := c.part[blk*stride : (blk+1)*stride]
		for t := 0; t < kk; t++ {
			for ch := 0; ch < C; ch++ {
				gw[ch*kk+t] += part[t*C+ch]
			}
		}
		if c.Bias != nil {
			convAdd(c.Bias.Grad.Data, part[kk*C:])
		}
	}
}

// depthwise32 returns the float32 depthwise state with the geometry of the
// last Forward, or nil for float64, which keeps the Go loops above as the
// reference the vector kernels are checked against.
func (c *Conv2D[T]) depthwise32() *depthwise32 {
	if _, ok := any(c).(*Conv2D[float32]); !ok {
		return nil
	}
	if c.dw32 == nil {
		d := &depthwise32{}
		d.fwd, d.inputGrad, d.weightGrad = d.forwardRows, d.inputGradRows, d.weightGradBlocks
		d.fwdEpi, d.fwdEpiBlocks = d.fwdEpiRows, d.fwdEpiBlocksRange
		c.dw32 = d
	}
	c.dw32.shape = depthwise.Shape{
		N: c.n, H: c.h, W: c.w, C: c.cfg.In, K: c.cfg.Kernel, Stride: c.cfg.Stride,
		PadT: c.padT, PadL: c.padL, OH: c.oh, OW: c.ow,
	}
	return c.dw32
}

// depthwise32 runs float32 depthwise convolutions on the vector kernels of
// package depthwise. It holds the operands of one call, so that its loop
// bodies are method values made once and parallel.For allocates nothing.
type depthwise32 struct {
	shape                    depthwise.Shape
	wt, x, out, bias, dy, dx []float32
	part, biasBuf            []float32 // per-block partial gradients [blocks][k·k·C], [blocks][C]
	biasPart                 []float32 // biasBuf in use, or nil without a bias
	rows, blocks             int       // weight gradient rows N·OH, split into blocks

	fwd, inputGrad, weightGrad func(lo, hi int)

	// The Eval epilogue (see forwardEvalDepthwise): shared, or one per
	// block of rows with its own channel-sum partial.
	epi                  depthwise.Epilogue
	blockEpi             []depthwise.Epilogue
	chanSums             []float32
	fwdEpi, fwdEpiBlocks func(lo, hi int)
}

// forward computes out from x; bias is nil without a bias.
func (d *depthwise32) forward(wt, x, out, bias []float32) {
	d.wt, d.x, d.out, d.bias = wt, x, out, bias
	s := &d.shape
	parallel.For(s.N*s.OH, convGrain(s.OW*s.C*s.K*s.K), d.fwd)
	d.x, d.out = nil, nil
}

func (d *depthwise32) forwardRows(lo, hi int) { d.shape.Forward(d.out, d.x, d.wt, d.bias, lo, hi) }

func (d *depthwise32) inputGradRows(lo, hi int) { d.shape.InputGrad(d.dx, d.dy, d.wt, lo, hi) }

// weightGradBlocks sums blocks [lo, hi) of output rows each into its own
// partial, so that workers never write the same memory.
func (d *depthwise32) weightGradBlocks(lo, hi int) {
	s := &d.shape
	n := s.K * s.K * s.C
	for blk := lo; blk < hi; blk++ {
		part := d.part[blk*n : (blk+1)*n]
		clear(part)
		var bp []float32
		if d.biasPart != nil {
			bp = d.biasPart[blk*s.C : (blk+1)*s.C]
			clear(bp)
		}
		s.WeightGrad(part, bp, d.x, d.dy, blk*d.rows/d.blocks, (blk+1)*d.rows/d.blocks)
	}
}

// backward writes dx and adds the weight gradient into gw and the bias
// gradient into gb (nil without a bias).
func (d *depthwise32) backward(wt, x, dy, dx, gw, gb []float32) {
	s := &d.shape
	C, kk := s.C, s.K*s.K
	d.wt, d.x, d.dy, d.dx = wt, x, dy, dx
	parallel.For(s.N*s.H, convGrain(s.W*C*kk/(s.Stride*s.Stride)), d.inputGrad)

	d.rows = s.N * s.OH
	d.blocks = convBlocks(d.rows)
	d.part = convEnsure(d.part, d.blocks*kk*C)
	d.biasPart = nil
	if gb != nil {
		d.biasBuf = convEnsure(d.biasBuf, d.blocks*C)
		d.biasPart = d.biasBuf
	}
	parallel.For(d.blocks, 1, d.weightGrad)
	for blk := 0; blk < d.blocks; blk++ {
		part := d.part[blk*kk*C : (blk+1)*kk*C]
		for t := 0; t < kk; t++ {
			for ch := 0; ch < C; ch++ {
				gw[ch*kk+t] += part[t*C+ch]
			}
		}
		if gb != nil {
			convAdd(gb, d.biasPart[blk*C:(blk+1)*C])
		}
	}
	d.x, d.dy, d.dx = nil, nil, nil
}

// General: im2col with rows ordered (group, ky, kx, cin) so that each
// group's k·k·In/Groups columns line up with its OHWI weight rows, then
// one matrix product per group.

// colChunk returns how many images one im2col pass covers.
func (c *Conv2D[T]) colChunk() int {
	perImage := c.oh * c.ow * c.cfg.Kernel * c.cfg.Kernel * c.cfg.In
	return max(1, min(c.n, c.colLimit/max(1, perImage)))
}

// colSumsRange sums the rows of blocks [lo, hi) of c.opSrc into their
// float64 partial sums in c.sums.
func (c *Conv2D[T]) colSumsRange(lo, hi int) {
	m, cols, rows, p := c.opSrc, c.opCols, c.opRows, c.opBlocks
	for b := lo; b < hi; b++ {
		acc := c.sums[b*cols : (b+1)*cols]
		clear(acc)
		for r := b * rows / p; r < (b+1)*rows/p; r++ {
			row := m[r*cols : (r+1)*cols]
			for j, v := range row {
				acc[j] += float64(v)
			}
		}
	}
}

// im2col fills c.col with the patches of images [b0, b0+nb).
func (c *Conv2D[T]) im2col(x []T, b0, nb int) {
	rowLen := c.cfg.Kernel * c.cfg.Kernel * c.cfg.In
	c.opSrc, c.opB0 = x, b0
	parallel.For(nb*c.oh, convGrain(c.ow*rowLen), c.im2colRows)
	c.opSrc = nil
}

// im2colRange fills the im2col rows of output rows [lo, hi) counted from
// image c.opB0 of the input c.opSrc.
func (c *Conv2D[T]) im2colRange(lo, hi int) {
	in, k, s, g := c.cfg.In, c.cfg.Kernel, c.cfg.Stride, c.cfg.Groups
	cg := in / g
	K := k * k * cg
	rowLen := g * K
	h, w, oh, ow, padT, padL := c.h, c.w, c.oh, c.ow, c.padT, c.padL
	col, x, b0 := c.col, c.opSrc, c.opB0
	for r := lo; r < hi; r++ {
		b, oy := b0+r/oh, r%oh
		crow := col[r*ow*rowLen : (r+1)*ow*rowLen]
		if g == 1 {
			c.im2colDenseRow(crow, x[b*h*w*in:(b+1)*h*w*in], oy)
			continue
		}
		for ky := 0; ky < k; ky++ {
			iy := oy*s - padT + ky
			for kx := 0; kx < k; kx++ {
				lo, hi := convRange(ow, w, padL, kx, s)
				if iy < 0 || iy >= h {
					lo, hi = 0, 0
				}
				for ox := 0; ox < ow; ox++ {
					dst := crow[ox*rowLen : (ox+1)*rowLen]
					if ox < lo || ox >= hi {
						for gi := 0; gi < g; gi++ {
							clear(dst[gi*K+(ky*k+kx)*cg : gi*K+(ky*k+kx+1)*cg])
						}
						continue
					}
					ix := ox*s - padL + kx
					src := x[((b*h+iy)*w+ix)*in : ((b*h+iy)*w+ix+1)*in]
					for gi := 0; gi < g; gi++ {
						copy(dst[gi*K+(ky*k+kx)*cg:gi*K+(ky*k+kx+1)*cg], src[gi*cg:(gi+1)*cg])
					}
				}
			}
		}
	}
}

// im2colDenseRow fills the im2col row of output row oy of one image x
// for an ungrouped convolution. There a kernel row's k taps read k·In
// contiguous input values (NHWC), so a pixel whose taps all lie inside the
// image takes one copy per kernel row: for the stem (In = 3) that is 3
// copies of 9 values rather than 9 of 3.
func (c *Conv2D[T]) im2colDenseRow(crow, x []T, oy int) {
	in, k, s := c.cfg.In, c.cfg.Kernel, c.cfg.Stride
	h, w, ow, padT, padL := c.h, c.w, c.ow, c.padT, c.padL
	K, run := k*k*in, k*in
	for ox := 0; ox < ow; ox++ {
		dst := crow[ox*K : (ox+1)*K]
		ix0 := ox*s - padL
		inside := ix0 >= 0 && ix0+k <= w
		for ky := 0; ky < k; ky++ {
			d := dst[ky*run : (ky+1)*run]
			iy := oy*s - padT + ky
			if iy < 0 || iy >= h {
				clear(d)
				continue
			}
			xrow := x[iy*w*in : (iy+1)*w*in]
			switch {
			case inside && run == 9:
				// The stem (3×3 taps of 3 channels) moves its runs
				// element by element: copy, and array assignment too,
				// call memmove for every 36 bytes, which made im2col
				// half of the stem's forward time.
				v := xrow[ix0*in : ix0*in+9]
				d, v := d[:9:9], v[:9:9]
				d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8] = v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]
			case inside:
				copy(d, xrow[ix0*in:ix0*in+run])
			default:
				for kx := 0; kx < k; kx++ {
					if ix := ix0 + kx; ix >= 0 && ix < w {
						copy(d[kx*in:(kx+1)*in], xrow[ix*in:(ix+1)*in])
					} else {
						clear(d[kx*in : (kx+1)*in])
					}
				}
			}
		}
	}
}

// col2im writes into dx the input gradient of images [b0, b0+nb) from the
// column gradient in c.col, gathering per input row so that rows are
// independent.
func (c *Conv2D[T]) col2im(dx []T, b0, nb int) {
	s := c.cfg.Stride
	rowLen := c.cfg.Kernel * c.cfg.Kernel * c.cfg.In
	c.opDst, c.opB0 = dx, b0
	parallel.For(nb*c.h, convGrain(c.w*rowLen/(s*s)), c.col2imRows)
	c.opDst = nil
}

// col2imRange writes the input gradient rows [lo, hi), counted from image
// c.opB0, into c.opDst.
func (c *Conv2D[T]) col2imRange(lo, hi int) {
	in, k, s, g := c.cfg.In, c.cfg.Kernel, c.cfg.Stride, c.cfg.Groups
	cg := in / g
	K := k * k * cg
	rowLen := g * K
	h, w, oh, ow, padT, padL := c.h, c.w, c.oh, c.ow, c.padT, c.padL
	col, dx, b0 := c.col, c.opDst, c.opB0
	for r := lo; r < hi; r++ {
		b, iy := r/h, r%h
		dxrow := dx[((b0+b)*h+iy)*w*in : ((b0+b)*h+iy+1)*w*in]
		clear(dxrow)
		for ky := 0; ky < k; ky++ {
			t := iy + padT - ky
			if t < 0 || t%s != 0 || t/s >= oh {
				continue
			}
			oy := t / s
			for kx := 0; kx < k; kx++ {
				lo, hi := convRange(ow, w, padL, kx, s)
				for ox := lo; ox < hi; ox++ {
					ix := ox*s - padL + kx
					src := col[((b*oh+oy)*ow+ox)*rowLen : ((b*oh+oy)*ow+ox+1)*rowLen]
					dst := dxrow[ix*in : (ix+1)*in]
					for gi := 0; gi < g; gi++ {
						convAdd(dst[gi*cg:(gi+1)*cg], src[gi*K+(ky*k+kx)*cg:gi*K+(ky*k+kx+1)*cg])
					}
				}
			}
		}
	}
}

func (c *Conv2D[T]) forwardGeneral(x *Tensor[T]) {
	in, out, k, g := c.cfg.In, c.cfg.Out, c.cfg.Kernel, c.cfg.Groups
	K := k * k * in / g
	rowLen := g * K
	og := out / g
	chunk := c.colChunk()
	pix := c.oh * c.ow
	c.col = convEnsure(c.col, chunk*pix*rowLen)
	var beta T
	if c.Bias != nil {
		beta = 1
	}
	wd := c.Weight.Value.Data
	for b0 := 0; b0 < c.n; b0 += chunk {
		nb := min(chunk, c.n-b0)
		rows := nb * pix
		c.im2col(x.Data, b0, nb)
		oc := c.out.Data[b0*pix*out : (b0+nb)*pix*out]
		if c.Bias != nil {
			c.fillBias(oc)
		}
		for gi := 0; gi < g; gi++ {
			gemm.Gemm(false, true, rows, og, K, 1, c.col[gi*K:], rowLen, wd[gi*og*K:], K, beta, oc[gi*og:], out)
		}
	}
	c.colValid = chunk >= c.n
}

func (c *Conv2D[T]) backwardGeneral(dy *Tensor[T], skipInputGrad bool) {
	in, out, k, g := c.cfg.In, c.cfg.Out, c.cfg.Kernel, c.cfg.Groups
	K := k * k * in / g
	rowLen := g * K
	og := out / g
	chunk := c.colChunk()
	pix := c.oh * c.ow
	c.col = convEnsure(c.col, chunk*pix*rowLen)
	wd, gw := c.Weight.Value.Data, c.Weight.Grad.Data
	for b0 := 0; b0 < c.n; b0 += chunk {
		nb := min(chunk, c.n-b0)
		rows := nb * pix
		if !c.colValid {
			c.im2col(c.x.Data, b0, nb)
		}
		dyc := dy.Data[b0*pix*out : (b0+nb)*pix*out]
		for gi := 0; gi < g; gi++ {
			gemm.Gemm(true, false, og, K, rows, 1, dyc[gi*og:], out, c.col[gi*K:], rowLen, 1, gw[gi*og*K:], K)
		}
		c.colValid = false
		if skipInputGrad {
			continue
		}
		// The patches are no longer needed: overwrite them with their
		// gradient dCol = dY·W.
		for gi := 0; gi < g; gi++ {
			gemm.Gemm(false, false, rows, K, og, 1, dyc[gi*og:], out, wd[gi*og*K:], K, 0, c.col[gi*K:], rowLen)
		}
		c.col2im(c.dx.Data, b0, nb)
	}
	if c.Bias != nil {
		c.addColumnSums(c.Bias.Grad.Data, dy.Data, out)
	}
}
