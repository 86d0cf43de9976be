package flops

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"text/tabwriter"

	"github.com/effnet-go/effnet/arch"
)

// Kind is the role of a counted layer.
type Kind int

const (
	// Conv is a dense k×k convolution: the stem.
	Conv Kind = iota + 1
	// Pointwise is a dense 1×1 convolution: expansion, projection, head.
	Pointwise
	// Depthwise is a k×k convolution with one filter per channel.
	Depthwise
	// SqueezeExcite is one of the two 1×1 convolutions (with bias) of an SE
	// module, applied to the pooled 1×1 feature vector.
	SqueezeExcite
	// Linear is the classifier (with bias).
	Linear
	// BatchNorm is a BN layer: its weight and bias are parameters, its
	// arithmetic is in Other.
	BatchNorm
)

func (k Kind) String() string {
	switch k {
	case Conv:
		return "conv"
	case Pointwise:
		return "pointwise"
	case Depthwise:
		return "depthwise"
	case SqueezeExcite:
		return "se"
	case Linear:
		return "linear"
	case BatchNorm:
		return "bn"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Shape is a feature map of one image: channels, height, width.
type Shape struct{ C, H, W int }

func (s Shape) String() string { return fmt.Sprintf("%d×%d×%d", s.C, s.H, s.W) }

// Layer is one counted layer.
type Layer struct {
	Name    string // timm module name
	Kind    Kind
	In, Out Shape
	Params  int64
	MACs    int64
}

// Other counts the per-image work outside convolutions and linear layers,
// in elements processed (one operation each).
type Other struct {
	BatchNorm  int64 // elements normalised; one multiply-add each once folded for inference
	Activation int64 // elements through SiLU/ReLU, and through the SE sigmoid
	SEGate     int64 // multiplies of the feature map by the SE gate
	Residual   int64 // adds of the skip connections
	Pooling    int64 // adds of global average pooling (SE squeeze and head)
}

// Total returns the sum of all other operations.
func (o Other) Total() int64 {
	return o.BatchNorm + o.Activation + o.SEGate + o.Residual + o.Pooling
}

// Report is the count for one network at one resolution, per image.
type Report struct {
	Network    string
	Resolution int
	Layers     []Layer
	Params     int64 // trainable parameters: conv and linear weights, biases, BN weight and bias
	BNBuffers  int64 // BN running mean and variance (not parameters)
	MACs       int64 // of Conv, Pointwise, Depthwise, SqueezeExcite and Linear layers
	Other      Other
}

// Sum returns the parameters and MACs of the layers of kind k.
func (r Report) Sum(k Kind) (params, macs int64) {
	for _, l := range r.Layers {
		if l.Kind == k {
			params += l.Params
			macs += l.MACs
		}
	}
	return params, macs
}

// Count counts n at its resolution, n.Resolution × n.Resolution. To count
// another resolution, set n.Resolution first. It returns an error for an
// invalid spec or counts beyond int64.
func Count(n arch.Network) (Report, error) {
	if err := n.Validate(); err != nil {
		return Report{}, err
	}
	c := counter{net: n, r: Report{Network: n.Name, Resolution: n.Resolution}}
	in := Shape{n.InChannels, n.Resolution, n.Resolution}
	x := c.conv("conv_stem", Conv, in, n.Stem, 3, 2, 1)
	c.bn("bn1", x)
	c.act(x)

	for _, b := range n.Blocks() {
		p := fmt.Sprintf("blocks.%d.%d.", b.Stage, b.IndexInStage)
		x = c.block(p, b, x)
	}

	x = c.conv("conv_head", Pointwise, x, n.Head, 1, 1, 1)
	c.bn("bn2", x)
	c.act(x)
	c.r.Other.Pooling = c.add(c.r.Other.Pooling, c.mul(x.C, x.H, x.W))
	c.linear("classifier", Linear, x.C, n.Classes)

	if c.overflow {
		return Report{}, fmt.Errorf("flops: counts of %q at %d×%d overflow int64", n.Name, n.Resolution, n.Resolution)
	}
	for _, l := range c.r.Layers {
		c.r.Params = c.add(c.r.Params, l.Params)
		c.r.MACs = c.add(c.r.MACs, l.MACs)
	}
	if c.overflow {
		return Report{}, fmt.Errorf("flops: totals of %q at %d×%d overflow int64", n.Name, n.Resolution, n.Resolution)
	}
	return c.r, nil
}

// counter accumulates rows; any product or sum beyond int64 sets overflow,
// which Count turns into an error.
type counter struct {
	net      arch.Network
	r        Report
	overflow bool
}

func (c *counter) mul(xs ...int) int64 {
	p := uint64(1)
	for _, x := range xs {
		hi, lo := bits.Mul64(p, uint64(x))
		if hi != 0 || lo > math.MaxInt64 {
			c.overflow = true
			return 0
		}
		p = lo
	}
	return int64(p)
}

func (c *counter) add(a, b int64) int64 {
	s := a + b
	if s < a {
		c.overflow = true
	}
	return s
}

// conv adds a bias-free convolution and returns its output shape.
func (c *counter) conv(name string, k Kind, in Shape, out, kernel, stride, groups int) Shape {
	o := Shape{
		C: out,
		H: c.net.Padding.OutSize(in.H, kernel, stride),
		W: c.net.Padding.OutSize(in.W, kernel, stride),
	}
	c.r.Layers = append(c.r.Layers, Layer{
		Name:   name,
		Kind:   k,
		In:     in,
		Out:    o,
		Params: c.mul(out, kernel, kernel, in.C/groups),
		MACs:   c.mul(o.C, o.H, o.W, kernel, kernel, in.C/groups),
	})
	return o
}

// linear adds a fully connected layer with bias on a vector (also the SE
// convs, which are 1×1 convs on a 1×1 map).
func (c *counter) linear(name string, k Kind, in, out int) {
	c.r.Layers = append(c.r.Layers, Layer{
		Name:   name,
		Kind:   k,
		In:     Shape{in, 1, 1},
		Out:    Shape{out, 1, 1},
		Params: c.add(c.mul(in, out), int64(out)),
		MACs:   c.mul(in, out),
	})
}

func (c *counter) bn(name string, x Shape) {
	c.r.Layers = append(c.r.Layers, Layer{Name: name, Kind: BatchNorm, In: x, Out: x, Params: c.mul(2, x.C)})
	c.r.BNBuffers = c.add(c.r.BNBuffers, c.mul(2, x.C))
	c.r.Other.BatchNorm = c.add(c.r.Other.BatchNorm, c.mul(x.C, x.H, x.W))
}

func (c *counter) act(x Shape) {
	c.r.Other.Activation = c.add(c.r.Other.Activation, c.mul(x.C, x.H, x.W))
}

// block adds one block under timm's module names. An MBConv with expand
// ratio 1 has no conv_pw/bn1; it keeps the names of the other layers.
func (c *counter) block(p string, b arch.Block, x Shape) Shape {
	in := x
	dwBN, projConv, projBN := "bn2", "conv_pwl", "bn3"
	if b.Kind == arch.DepthwiseSeparable {
		dwBN, projConv, projBN = "bn1", "conv_pw", "bn2"
	}
	if b.HasExpand() {
		x = c.conv(p+"conv_pw", Pointwise, x, b.Mid, 1, 1, 1)
		c.bn(p+"bn1", x)
		c.act(x)
	}
	x = c.conv(p+"conv_dw", Depthwise, x, b.Mid, b.Kernel, b.Stride, b.Mid)
	c.bn(p+dwBN, x)
	c.act(x)
	if b.SE > 0 {
		c.r.Other.Pooling = c.add(c.r.Other.Pooling, c.mul(x.C, x.H, x.W))
		c.linear(p+"se.conv_reduce", SqueezeExcite, x.C, b.SE)
		c.r.Other.Activation = c.add(c.r.Other.Activation, int64(b.SE))
		c.linear(p+"se.conv_expand", SqueezeExcite, b.SE, x.C)
		c.r.Other.Activation = c.add(c.r.Other.Activation, int64(x.C)) // sigmoid
		c.r.Other.SEGate = c.add(c.r.Other.SEGate, c.mul(x.C, x.H, x.W))
	}
	x = c.conv(p+projConv, Pointwise, x, b.Out, 1, 1, 1)
	c.bn(p+projBN, x)
	if b.Skip {
		if x != in {
			panic(fmt.Sprintf("flops: block %s has a skip connection from %v to %v", p, in, x))
		}
		c.r.Other.Residual = c.add(c.r.Other.Residual, c.mul(x.C, x.H, x.W))
	}
	return x
}

// String returns the per-layer table followed by the totals.
func (r Report) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s at %d×%d\n", r.Network, r.Resolution, r.Resolution)
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "layer\tkind\tin\tout\tparams\tMACs\t")
	for _, l := range r.Layers {
		fmt.Fprintf(tw, "%s\t%v\t%v\t%v\t%d\t%d\t\n", l.Name, l.Kind, l.In, l.Out, l.Params, l.MACs)
	}
	tw.Flush()
	fmt.Fprintf(&sb, "params %d (plus %d BN buffers), MACs %d\n", r.Params, r.BNBuffers, r.MACs)
	o := r.Other
	fmt.Fprintf(&sb, "other ops %d: BN %d, activations %d, SE gating %d, residual adds %d, pooling %d\n",
		o.Total(), o.BatchNorm, o.Activation, o.SEGate, o.Residual, o.Pooling)
	return sb.String()
}
