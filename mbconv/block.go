package mbconv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/effnet-go/effnet/internal/parallel"
	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/layers"
)

// Config describes one block. Every field is meaningful; New rejects
// combinations that cannot be built.
type Config struct {
	In, Mid, Out int // input, expanded (depthwise) and output channels; Mid == In means no expansion
	Kernel       int // depthwise kernel size
	Stride       int // depthwise stride, 1 or 2
	SE           int // squeeze-excite width; 0 means no squeeze-excite
	// Skip adds the identity path. It needs Stride 1 and In == Out.
	Skip bool
	// DropPath is the probability of dropping the residual branch per
	// sample in training (stochastic depth); it needs Skip.
	DropPath   float64
	Padding    layers.Padding
	BNEps      float64
	BNMomentum float64
	Act        layers.Activation
}

func (c Config) validate() error {
	switch {
	case c.In <= 0 || c.Mid <= 0 || c.Out <= 0:
		return fmt.Errorf("mbconv: channels must be positive, got in %d, mid %d, out %d", c.In, c.Mid, c.Out)
	case c.Stride != 1 && c.Stride != 2:
		return fmt.Errorf("mbconv: stride must be 1 or 2, got %d", c.Stride)
	case c.SE < 0:
		return fmt.Errorf("mbconv: squeeze-excite width must not be negative, got %d", c.SE)
	case c.Skip && (c.Stride != 1 || c.In != c.Out):
		return fmt.Errorf("mbconv: identity skip needs stride 1 and in == out, got stride %d, %d→%d", c.Stride, c.In, c.Out)
	case c.DropPath < 0 || c.DropPath >= 1:
		return fmt.Errorf("mbconv: drop-path rate must be in [0, 1), got %g", c.DropPath)
	case c.DropPath > 0 && !c.Skip:
		return errors.New("mbconv: drop-path needs the identity skip")
	case c.BNEps <= 0 || c.BNMomentum < 0 || c.BNMomentum > 1:
		return fmt.Errorf("mbconv: BatchNorm eps %g / momentum %g out of range", c.BNEps, c.BNMomentum)
	}
	return nil
}

// Block is one MBConv block. Its sublayers are exported so that weights can
// be mapped onto them; Expand, ExpandBN and SE are nil when the block has
// no expansion or no squeeze-excite.
type Block[T layers.Float] struct {
	Config Config

	Expand    *layers.Conv2D[T]
	ExpandBN  *layers.BatchNorm2D[T] // with the block's activation fused (Act)
	DW        *layers.Conv2D[T]
	DWBN      *layers.BatchNorm2D[T] // with the block's activation fused (Act)
	SE        *layers.SqueezeExcite[T]
	Project   *layers.Conv2D[T]
	ProjectBN *layers.BatchNorm2D[T]

	params  []*layers.Param[T]
	buffers []*layers.Buffer[T]

	drop *layers.DropPath[T] // nil without a skip or with rate 0
	// dropped records that the last Forward ran drop, so Backward must.
	dropped bool
	seq     []layers.Layer[T] // the residual branch in order, drop-path apart
	// operands of the residual add and its gradient, for the loop bodies
	// add and addGrad, method values made once so parallel.For does not
	// allocate a closure per call. Both sums are written in place over
	// the branch's tensor (y, g): see Forward and Backward.
	x, y, g, dy  *tensor.Tensor[T]
	add, addGrad func(lo, hi int)

	// Eval-mode epilogues: each BatchNorm folded into its convolution
	// (see forwardEval), kept here so that a Forward allocates nothing.
	expandEpi, dwEpi, projectEpi layers.Epilogue[T]
	means                        *tensor.Tensor[T] // [N, Mid], the depthwise output's channel means
}

// New builds a block with freshly initialised weights drawn from rng, which
// also drives drop-path. The weights are initialised as torchvision does
// (Kaiming-normal, fan-out, for convolutions; BatchNorm weight 1, bias 0).
func New[T layers.Float](c Config, rng *rand.Rand) (*Block[T], error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	b := &Block[T]{Config: c}
	conv := func(in, out, k, stride, groups int) (*layers.Conv2D[T], error) {
		l, err := layers.NewConv2D[T](layers.Conv2DConfig{In: in, Out: out, Kernel: k, Stride: stride, Groups: groups, Padding: c.Padding})
		if err != nil {
			return nil, fmt.Errorf("mbconv: %w", err)
		}
		layers.InitKaimingNormalFanOut(l.Weight, rng)
		return l, nil
	}
	bn := func(ch int) (*layers.BatchNorm2D[T], error) {
		l, err := layers.NewBatchNorm2D[T](ch, c.BNEps, c.BNMomentum)
		if err != nil {
			return nil, fmt.Errorf("mbconv: %w", err)
		}
		return l, nil
	}
	var err error
	if c.Mid != c.In {
		if b.Expand, err = conv(c.In, c.Mid, 1, 1, 1); err != nil {
			return nil, err
		}
		if b.ExpandBN, err = bn(c.Mid); err != nil {
			return nil, err
		}
		b.ExpandBN.Act = c.Act
		b.seq = append(b.seq, b.Expand, b.ExpandBN)
	}
	if b.DW, err = conv(c.Mid, c.Mid, c.Kernel, c.Stride, c.Mid); err != nil {
		return nil, err
	}
	if b.DWBN, err = bn(c.Mid); err != nil {
		return nil, err
	}
	b.DWBN.Act = c.Act
	b.seq = append(b.seq, b.DW, b.DWBN)
	if c.SE > 0 {
		b.SE = layers.NewSqueezeExcite[T](c.Mid, c.SE, c.Act)
		for _, p := range []*layers.Param[T]{b.SE.Reduce.Weight, b.SE.Expand.Weight} {
			// A 1×1 convolution's fan-out is its output count.
			layers.InitKaimingNormalFanOut(p, rng)
		}
		b.seq = append(b.seq, b.SE)
	}
	if b.Project, err = conv(c.Mid, c.Out, 1, 1, 1); err != nil {
		return nil, err
	}
	if b.ProjectBN, err = bn(c.Out); err != nil {
		return nil, err
	}
	b.seq = append(b.seq, b.Project, b.ProjectBN)
	if c.Skip {
		if c.DropPath > 0 {
			b.drop = layers.NewDropPath[T](c.DropPath, rng)
		}
		b.add = b.addRange
		b.addGrad = b.addGradRange
	}
	// The gradients these layers receive in Backward are scratch owned by
	// the next layer of the block (the depthwise or project convolution,
	// squeeze-excite, drop-path) and read by nothing else, so they may be
	// overwritten: that saves one activation-sized buffer per layer in
	// training. The project BatchNorm receives drop-path's input gradient
	// when drop-path runs, else the caller's gradient, which the identity
	// path still reads and which must stay untouched.
	if b.ExpandBN != nil {
		b.ExpandBN.GradInPlace = true
	}
	b.DWBN.GradInPlace = true
	if b.SE != nil {
		b.SE.GradInPlace = true
	}
	b.ProjectBN.GradInPlace = b.drop != nil
	affine := func(e *layers.Epilogue[T], ch int, act layers.Activation) {
		e.Scale, e.Bias, e.Act = make([]T, ch), make([]T, ch), act
	}
	if b.Expand != nil {
		affine(&b.expandEpi, c.Mid, c.Act)
	}
	affine(&b.dwEpi, c.Mid, c.Act)
	affine(&b.projectEpi, c.Out, layers.Identity)
	b.name()
	return b, nil
}

// ShareEvalBuffers makes Eval-mode Forwards write the expanded tensor,
// the depthwise output and the block's output into the given tensors
// (resized as needed) instead of tensors of the block's own; nil keeps the
// block's own. A network shares them among all its blocks, whose
// intermediate tensors are dead once the next block starts, so that
// inference holds a few activation-sized buffers instead of three per
// block (B7 at 600 px: 1.4 GB). out must differ from the block's input.
func (b *Block[T]) ShareEvalBuffers(expanded, depthwise, out *tensor.Tensor[T]) {
	b.expandEpi.Out, b.dwEpi.Out, b.projectEpi.Out = expanded, depthwise, out
}

// ShareGradBuffers makes Backward write the project and depthwise
// convolutions' input gradients into projectGrad and depthwiseGrad and
// the block's input gradient (what Backward returns) into out, instead of
// tensors of the block's own; nil keeps the block's own. The first two
// are dead once Backward returns, so a network shares them among all its
// blocks; out must differ from the gradient passed to Backward, which a
// network arranges by alternating two buffers between consecutive blocks.
// In a block without expansion the depthwise gradient is the block's
// input gradient and goes to out.
func (b *Block[T]) ShareGradBuffers(projectGrad, depthwiseGrad, out *tensor.Tensor[T]) {
	b.Project.GradOut = projectGrad
	if b.Expand == nil {
		b.DW.GradOut = out
		return
	}
	b.DW.GradOut, b.Expand.GradOut = depthwiseGrad, out
}

// forwardEval is Forward in Eval mode with every BatchNorm, activation and
// the residual add fused into the convolution before it (Conv2D.ForwardEval),
// so that each convolution's output is written once and read once.
func (b *Block[T]) forwardEval(x *tensor.Tensor[T]) (*tensor.Tensor[T], error) {
	h := x
	var err error
	if b.Expand != nil {
		b.ExpandBN.EvalAffine(b.expandEpi.Scale, b.expandEpi.Bias)
		if h, err = b.Expand.ForwardEval(h, &b.expandEpi); err != nil {
			return nil, fmt.Errorf("%v: %w", b, err)
		}
	}
	b.DWBN.EvalAffine(b.dwEpi.Scale, b.dwEpi.Bias)
	b.dwEpi.Means = nil
	if b.SE != nil {
		// The depthwise convolution pools for squeeze-excite as it
		// writes; its output is scratch in Eval, so the gate scales it
		// in place.
		b.means = tensor.Ensure(b.means, h.Shape[0], b.Config.Mid)
		b.dwEpi.Means = b.means
	}
	h, err = b.DW.ForwardEval(h, &b.dwEpi)
	b.dwEpi.Means = nil
	if err != nil {
		return nil, fmt.Errorf("%v: %w", b, err)
	}
	if b.SE != nil {
		if h, err = b.SE.ScaleEval(h, b.means); err != nil {
			return nil, fmt.Errorf("%v: %w", b, err)
		}
	}
	b.ProjectBN.EvalAffine(b.projectEpi.Scale, b.projectEpi.Bias)
	b.projectEpi.Residual = nil
	if b.Config.Skip {
		b.projectEpi.Residual = x
	}
	h, err = b.Project.ForwardEval(h, &b.projectEpi)
	b.projectEpi.Residual = nil
	if err != nil {
		return nil, fmt.Errorf("%v: %w", b, err)
	}
	return h, nil
}

func (b *Block[T]) String() string {
	c := b.Config
	return fmt.Sprintf("MBConv(%d→%d→%d, k%d, s%d, se %d, skip %t)", c.In, c.Mid, c.Out, c.Kernel, c.Stride, c.SE, c.Skip)
}

// Forward runs the block on an NHWC input [N, H, W, In].
func (b *Block[T]) Forward(x *tensor.Tensor[T], mode layers.Mode) (*tensor.Tensor[T], error) {
	if mode == layers.Eval {
		b.dropped = false
		return b.forwardEval(x)
	}
	h := x
	var err error
	for _, l := range b.seq {
		if h, err = l.Forward(h, mode); err != nil {
			return nil, fmt.Errorf("%v: %w", b, err)
		}
	}
	if !b.Config.Skip {
		return h, nil
	}
	// Drop-path is the identity in Eval mode: skipping it there saves a
	// copy of the output.
	b.dropped = b.drop != nil && mode == layers.Train
	if b.dropped {
		if h, err = b.drop.Forward(h, mode); err != nil {
			return nil, fmt.Errorf("%v: %w", b, err)
		}
	}
	// h is drop-path's or the project BatchNorm's output, which nothing
	// reads again (their Backward needs only the mask and the BatchNorm's
	// input), so the sum goes over it rather than into a buffer of its
	// own, saving an output-sized buffer per block.
	b.x, b.y = x, h
	parallel.For(len(h.Data), 1<<14, b.add)
	b.x, b.y = nil, nil
	return h, nil
}

func (b *Block[T]) addRange(lo, hi int) {
	x, y := b.x.Data[lo:hi], b.y.Data[lo:hi]
	for i := range y {
		y[i] += x[i]
	}
}

func (b *Block[T]) addGradRange(lo, hi int) {
	g, d := b.g.Data[lo:hi], b.dy.Data[lo:hi]
	for i := range g {
		g[i] += d[i]
	}
}

// Backward takes the gradient of the loss with respect to the block's
// output and returns the gradient with respect to its input, accumulating
// parameter gradients.
func (b *Block[T]) Backward(dy *tensor.Tensor[T]) (*tensor.Tensor[T], error) {
	g := dy
	var err error
	if b.Config.Skip && b.dropped {
		if g, err = b.drop.Backward(g); err != nil {
			return nil, fmt.Errorf("%v: %w", b, err)
		}
	}
	for i := len(b.seq) - 1; i >= 0; i-- {
		if g, err = b.seq[i].Backward(g); err != nil {
			return nil, fmt.Errorf("%v: %w", b, err)
		}
	}
	if !b.Config.Skip {
		return g, nil
	}
	// The identity path passes dy straight through: dx = branch grad + dy.
	// g is the input gradient of the branch's first layer, scratch that
	// nothing reads again, so the sum goes over it.
	b.g, b.dy = g, dy
	parallel.For(len(g.Data), 1<<14, b.addGrad)
	b.g, b.dy = nil, nil
	return g, nil
}

// Params lists the learnable tensors under timm's names, so that a timm
// state dict maps onto a block name for name. With an expansion:
// conv_pw, bn1 (expand), conv_dw, bn2 (depthwise), se.conv_reduce,
// se.conv_expand, conv_pwl, bn3 (project). Without one (timm's depthwise-
// separable block): conv_dw, bn1, se.*, conv_pw, bn2.
func (b *Block[T]) Params() []*layers.Param[T] { return b.params }

// Buffers lists the BatchNorm running statistics, named like Params
// ("bn1.running_mean", ...).
func (b *Block[T]) Buffers() []*layers.Buffer[T] { return b.buffers }

func (b *Block[T]) name() {
	type part struct {
		name  string
		layer layers.Layer[T]
	}
	var parts []part
	if b.Expand != nil {
		parts = []part{{"conv_pw", b.Expand}, {"bn1", b.ExpandBN}, {"conv_dw", b.DW}, {"bn2", b.DWBN}}
	} else {
		parts = []part{{"conv_dw", b.DW}, {"bn1", b.DWBN}}
	}
	if b.SE != nil {
		parts = append(parts, part{"se.conv_reduce", b.SE.Reduce}, part{"se.conv_expand", b.SE.Expand})
	}
	if b.Expand != nil {
		parts = append(parts, part{"conv_pwl", b.Project}, part{"bn3", b.ProjectBN})
	} else {
		parts = append(parts, part{"conv_pw", b.Project}, part{"bn2", b.ProjectBN})
	}
	for _, pt := range parts {
		for _, p := range pt.layer.Params() {
			local := p.Name
			if i := strings.LastIndexByte(local, '.'); i >= 0 {
				local = local[i+1:] // SE sublayers name theirs "reduce.weight"
			}
			b.params = append(b.params, &layers.Param[T]{Name: pt.name + "." + local, Value: p.Value, Grad: p.Grad})
		}
		if bn, ok := pt.layer.(*layers.BatchNorm2D[T]); ok {
			for _, buf := range bn.Buffers() {
				b.buffers = append(b.buffers, &layers.Buffer[T]{Name: pt.name + "." + buf.Name, Value: buf.Value})
			}
		}
	}
}
