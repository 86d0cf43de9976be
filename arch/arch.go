package arch

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"text/tabwriter"
)

// Padding is how convolutions pad their input.
type Padding int

const (
	// Symmetric pads (k-1)/2 on every side, as PyTorch models do.
	Symmetric Padding = iota + 1
	// Same pads so the output side is ceil(in/stride), putting the odd
	// extra pixel at the bottom and right, as TensorFlow's "SAME" does.
	Same
)

func (p Padding) String() string {
	switch p {
	case Symmetric:
		return "symmetric"
	case Same:
		return "same"
	}
	return fmt.Sprintf("Padding(%d)", int(p))
}

func (p Padding) valid() bool { return p == Symmetric || p == Same }

// Pads returns the padding before (top or left) and after (bottom or right)
// of an input side in for a convolution with the given kernel and stride.
// It panics on an invalid Padding, a programmer error.
func (p Padding) Pads(in, kernel, stride int) (before, after int) {
	switch p {
	case Symmetric:
		return (kernel - 1) / 2, (kernel - 1) / 2
	case Same:
		out := (in + stride - 1) / stride
		total := max((out-1)*stride+kernel-in, 0)
		return total / 2, total - total/2
	}
	panic(fmt.Sprintf("arch: invalid padding %d", int(p)))
}

// OutSize returns the output side of a convolution over an input side in:
// floor((in + 2p - k)/s) + 1 with p = (k-1)/2 for Symmetric, ceil(in/s) for
// Same. For odd kernels the two agree.
func (p Padding) OutSize(in, kernel, stride int) int {
	before, after := p.Pads(in, kernel, stride)
	return (in+before+after-kernel)/stride + 1
}

// Activation is the nonlinearity after each BN (except the projection's).
type Activation int

const (
	// SiLU is x·sigmoid(x), EfficientNet's "swish".
	SiLU Activation = iota + 1
	// ReLU is max(x, 0), used by the mobile-friendly "lite" variants.
	ReLU
)

func (a Activation) String() string {
	switch a {
	case SiLU:
		return "silu"
	case ReLU:
		return "relu"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

func (a Activation) valid() bool { return a == SiLU || a == ReLU }

// BlockKind is the structure of a block.
type BlockKind int

const (
	// MBConv is the inverted residual block: 1×1 expansion (absent when the
	// expand ratio is 1), depthwise conv, SE, 1×1 linear projection.
	MBConv BlockKind = iota + 1
	// DepthwiseSeparable is depthwise conv, SE, 1×1 linear projection: the
	// layers of an MBConv with expand ratio 1, under timm's name.
	DepthwiseSeparable
)

func (k BlockKind) String() string {
	switch k {
	case MBConv:
		return "mbconv"
	case DepthwiseSeparable:
		return "ds"
	}
	return fmt.Sprintf("BlockKind(%d)", int(k))
}

func (k BlockKind) valid() bool { return k == MBConv || k == DepthwiseSeparable }

// Stage is one row of the paper's Table 1: Repeats blocks of one kind, the
// first with Stride and the input of the previous stage, the others with
// stride 1 and Out inputs.
type Stage struct {
	Kind    BlockKind
	Repeats int
	Kernel  int     // depthwise kernel side, odd
	Stride  int     // 1 or 2, first block only
	Expand  int     // expansion ratio; 1 means no expansion conv
	Out     int     // output channels
	SERatio float64 // SE width as a fraction of the block's input channels; 0 = no SE
}

// Network is a whole EfficientNet: every field is required, and the channel
// and repeat counts are the final ones (already scaled).
//
// A Network is a value, but Stages is a slice: use [Network.Clone] before
// editing the stages of a copy.
type Network struct {
	Name         string
	InChannels   int // image channels, 3 for RGB
	Stem         int // output channels of the 3×3 stride-2 stem conv
	Stages       []Stage
	Head         int // output channels of the 1×1 head conv
	Classes      int
	Dropout      float64 // before the classifier
	DropPathRate float64 // stochastic depth rate of the last block; block i of N gets rate·i/N
	Resolution   int     // native input side
	BNEps        float64
	BNMomentum   float64 // PyTorch convention: running = (1-m)·running + m·batch
	Padding      Padding
	Activation   Activation
}

// Block is one block of the expanded network.
type Block struct {
	Index        int // position among all blocks, from 0
	Stage        int // stage index, from 0
	IndexInStage int
	Kind         BlockKind
	In           int // input channels
	Mid          int // channels of the depthwise conv: In·Expand
	Out          int // output channels
	Kernel       int
	Stride       int
	Expand       int
	SE           int     // SE reduced channels, max(1, int(In·SERatio)); 0 = no SE
	Skip         bool    // residual connection: stride 1 and In == Out
	DropPath     float64 // stochastic depth rate of the residual branch, used only when Skip
}

// HasExpand reports whether the block starts with a 1×1 expansion conv.
func (b Block) HasExpand() bool { return b.Expand != 1 }

// Clone returns a copy of n that shares no memory with it.
func (n Network) Clone() Network {
	n.Stages = append([]Stage(nil), n.Stages...)
	return n
}

// NumBlocks returns the number of blocks after expanding the repeats.
func (n Network) NumBlocks() int {
	total := 0
	for _, s := range n.Stages {
		total += max(s.Repeats, 0)
	}
	return total
}

// Blocks expands the stages into the flat list of blocks, in order. The
// result is only meaningful for a network that passes [Network.Validate].
func (n Network) Blocks() []Block {
	total := n.NumBlocks()
	out := make([]Block, 0, total)
	in := n.Stem
	for si, s := range n.Stages {
		for j := range s.Repeats {
			stride := 1
			if j == 0 {
				stride = s.Stride
			}
			b := Block{
				Index:        len(out),
				Stage:        si,
				IndexInStage: j,
				Kind:         s.Kind,
				In:           in,
				Mid:          in * s.Expand,
				Out:          s.Out,
				Kernel:       s.Kernel,
				Stride:       stride,
				Expand:       s.Expand,
				Skip:         stride == 1 && in == s.Out,
				// Same expression order as timm and torchvision, so the
				// float64 rates are bit-identical: (rate·i)/N.
				DropPath: n.DropPathRate * float64(len(out)) / float64(total),
			}
			if s.SERatio > 0 {
				b.SE = max(1, int(float64(in)*s.SERatio))
			}
			out = append(out, b)
			in = s.Out
		}
	}
	return out
}

// Limits beyond which a spec is rejected: they keep every count the flops
// package multiplies well inside int64 and catch multipliers typed in the
// wrong unit (a width of 110 instead of 1.1).
const (
	maxChannels   = 1 << 20
	maxRepeats    = 1 << 12
	maxResolution = 1 << 15
	maxKernel     = 63
)

// Validate reports every reason the spec cannot describe a network, joined
// into one error, or nil.
func (n Network) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("arch: network %q: "+format, append([]any{n.Name}, args...)...))
	}
	count := func(what string, v, limit int) {
		if v < 1 || v > limit {
			bad("%s = %d, want 1..%d", what, v, limit)
		}
	}
	count("input channels", n.InChannels, maxChannels)
	count("stem channels", n.Stem, maxChannels)
	count("head channels", n.Head, maxChannels)
	count("classes", n.Classes, maxChannels)
	count("resolution", n.Resolution, maxResolution)
	if len(n.Stages) == 0 {
		bad("no stages")
	}
	for i, s := range n.Stages {
		st := func(format string, args ...any) { bad("stage %d: "+format, append([]any{i}, args...)...) }
		if !s.Kind.valid() {
			st("block kind %v unset or unknown", s.Kind)
		}
		if s.Repeats < 1 || s.Repeats > maxRepeats {
			st("repeats = %d, want 1..%d", s.Repeats, maxRepeats)
		}
		switch {
		case s.Kernel < 1 || s.Kernel > maxKernel:
			st("kernel = %d, want 1..%d", s.Kernel, maxKernel)
		case s.Kernel%2 == 0 && n.Padding == Same:
			st("even kernel %d with SAME padding: the padding would be lopsided and residual shapes would not line up", s.Kernel)
		case s.Kernel%2 == 0:
			st("even kernel %d: symmetric padding (k-1)/2 would shrink the output by one pixel", s.Kernel)
		}
		if s.Stride != 1 && s.Stride != 2 {
			st("stride = %d, want 1 or 2", s.Stride)
		}
		if s.Expand < 1 || s.Expand > maxChannels {
			st("expand ratio = %d, want ≥ 1", s.Expand)
		}
		if s.Kind == DepthwiseSeparable && s.Expand != 1 {
			st("depthwise-separable block with expand ratio %d, want 1 (use MBConv)", s.Expand)
		}
		count(fmt.Sprintf("stage %d: output channels", i), s.Out, maxChannels)
		if !(s.SERatio >= 0 && s.SERatio <= 1) {
			st("SE ratio = %v, want 0 (no SE) .. 1", s.SERatio)
		}
	}
	if mid := n.maxMid(); mid > maxChannels {
		bad("expanded width %d exceeds %d", mid, maxChannels)
	}
	if !(n.Dropout >= 0 && n.Dropout < 1) {
		bad("dropout = %v, want [0, 1)", n.Dropout)
	}
	if !(n.DropPathRate >= 0 && n.DropPathRate < 1) {
		bad("drop-path rate = %v, want [0, 1)", n.DropPathRate)
	}
	if !(n.BNEps > 0) || math.IsInf(n.BNEps, 0) {
		bad("BN eps = %v, want a finite number > 0", n.BNEps)
	}
	if !(n.BNMomentum > 0 && n.BNMomentum <= 1) {
		bad("BN momentum = %v, want (0, 1] (PyTorch convention: 0.1, not TensorFlow's 0.9)", n.BNMomentum)
	}
	if !n.Padding.valid() {
		bad("padding %v unset or unknown", n.Padding)
	}
	if !n.Activation.valid() {
		bad("activation %v unset or unknown", n.Activation)
	}
	return errors.Join(errs...)
}

// maxMid is the widest expanded channel count, computed without overflow for
// the in-range channel and expand values Validate lets through.
func (n Network) maxMid() int {
	m, in := 0, n.Stem
	for _, s := range n.Stages {
		if s.Expand < 1 || s.Expand > maxChannels || in < 0 || in > maxChannels {
			return 0 // reported elsewhere
		}
		m = max(m, in*s.Expand, s.Out*s.Expand)
		in = s.Out
	}
	return m
}

// String returns the spec's settings and its block table. Stages are
// numbered from 1 there, like torchvision's features.1..7 (the paper's Table 1
// counts the stem as stage 1 and starts the blocks at 2).
func (n Network) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s: %dx%d input, %d→%d stem, %d blocks, head %d, %d classes\n",
		n.Name, n.Resolution, n.Resolution, n.InChannels, n.Stem, n.NumBlocks(), n.Head, n.Classes)
	fmt.Fprintf(&sb, "padding %v, activation %v, BN eps %g momentum %g, dropout %g, drop-path %g\n",
		n.Padding, n.Activation, n.BNEps, n.BNMomentum, n.Dropout, n.DropPathRate)
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "block\tstage\tkind\tin\tmid\tout\tkernel\tstride\tse\tskip\tdrop-path\t")
	for _, b := range n.Blocks() {
		skip := "-"
		if b.Skip {
			skip = "yes"
		}
		fmt.Fprintf(tw, "%d\t%d.%d\t%v\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%.4f\t\n",
			b.Index, b.Stage+1, b.IndexInStage, b.Kind, b.In, b.Mid, b.Out, b.Kernel, b.Stride, b.SE, skip, b.DropPath)
	}
	tw.Flush()
	return sb.String()
}
