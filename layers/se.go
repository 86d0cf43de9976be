package layers

import (
	"fmt"

	"github.com/effnet-go/effnet/internal/chanops"
	"github.com/effnet-go/effnet/internal/parallel"
	"github.com/effnet-go/effnet/internal/tensor"
)

// SqueezeExcite is the squeeze-and-excitation block of MBConv: it rescales
// each channel of an NHWC map [N, H, W, C] by a gate computed from the
// whole map,
//
//	gate = sigmoid(Expand(act(Reduce(mean over H, W of x))))
//	out  = x · gate   (gate broadcast over H and W)
//
// Reduce and Expand are the two 1×1 convolutions with bias of the PyTorch
// modules (torchvision fc1/fc2, timm conv_reduce/conv_expand); on pooled
// features they are Linear layers whose [out, in] weights are the PyTorch
// [out, in, 1, 1] weights flattened.
type SqueezeExcite[T Float] struct {
	Channels, Reduced int
	Act               Activation
	Reduce, Expand    *Linear[T]
	// GradInPlace makes Backward write the input gradient over dy and
	// return dy itself rather than a tensor of the layer's own, saving
	// one activation-sized buffer in training. Set it only when dy is
	// scratch that nothing reads after this Backward, such as the input
	// gradient of the convolution that follows in an MBConv block.
	GradInPlace bool

	pool  *GlobalAvgPool[T]
	act   Layer[T]
	ready bool

	hw            int
	x, y, dx, dy  *Tensor[T]
	out           *Tensor[T] // where dscaleRange writes: dx, or dy in place
	gate          *Tensor[T] // [N, C], sigmoid of Expand's output
	dgate         *Tensor[T] // [N, C], loss gradient wrt Expand's output
	dpMean        *Tensor[T] // [N, C], Reduce's input gradient over H·W: what the mean adds to each pixel's
	scale, dscale func(lo, hi int)
	gateGrad      func(lo, hi int)
}

// NewSqueezeExcite returns a squeeze-and-excitation block for channels
// channels squeezed to reduced, with act between the two linear maps (SiLU
// in EfficientNet). Its parameters, named "reduce.weight", "reduce.bias",
// "expand.weight" and "expand.bias", start at zero. It panics if a size is
// not positive or act is unknown.
func NewSqueezeExcite[T Float](channels, reduced int, act Activation) *SqueezeExcite[T] {
	s := &SqueezeExcite[T]{
		Channels: channels, Reduced: reduced, Act: act,
		Reduce: NewLinear[T](channels, reduced, true),
		Expand: NewLinear[T](reduced, channels, true),
		pool:   NewGlobalAvgPool[T](),
		act:    NewActivation[T](act),
	}
	// The sublayers' own Params are renamed rather than copied, so that an
	// optimiser holding them and one holding s.Params() see the same state.
	s.Reduce.Weight.Name, s.Reduce.Bias.Name = "reduce.weight", "reduce.bias"
	s.Expand.Weight.Name, s.Expand.Bias.Name = "expand.weight", "expand.bias"
	s.scale = s.scaleRange
	s.dscale = s.dscaleRange
	s.gateGrad = s.gateGradRange
	return s
}

func (s *SqueezeExcite[T]) String() string {
	return fmt.Sprintf("SqueezeExcite(%d→%d, %v)", s.Channels, s.Reduced, s.Act)
}

// Params returns reduce.weight, reduce.bias, expand.weight, expand.bias.
func (s *SqueezeExcite[T]) Params() []*Param[T] {
	return []*Param[T]{s.Reduce.Weight, s.Reduce.Bias, s.Expand.Weight, s.Expand.Bias}
}

func (s *SqueezeExcite[T]) Forward(x *Tensor[T], mode Mode) (*Tensor[T], error) {
	s.ready = false
	if x.Dims() != 4 || x.Shape[3] != s.Channels || x.Shape[1]*x.Shape[2] == 0 {
		return nil, &ShapeError{Layer: s.String(), Want: fmt.Sprintf("[N H W %d] with H·W > 0", s.Channels),
			Got: append([]int(nil), x.Shape...), Argument: "input"}
	}
	pooled, err := s.pool.Forward(x, mode)
	if err != nil {
		return nil, err
	}
	if err := s.setGate(pooled, mode); err != nil {
		return nil, err
	}
	s.hw = x.Shape[1] * x.Shape[2]
	s.x = x
	s.y = tensor.Ensure(s.y, x.Shape...)
	rows := x.Shape[0] * s.hw
	parallel.For(rows, max(1, ewGrain/s.Channels), s.scale)
	s.ready = mode == Train
	if !s.ready {
		s.x = nil
	}
	return s.y, nil
}

// setGate computes s.gate = sigmoid(Expand(act(Reduce(pooled)))) from the
// channel means pooled [N, C].
func (s *SqueezeExcite[T]) setGate(pooled *Tensor[T], mode Mode) error {
	z, err := s.Reduce.Forward(pooled, mode)
	if err != nil {
		return err
	}
	if z, err = s.act.Forward(z, mode); err != nil {
		return err
	}
	if z, err = s.Expand.Forward(z, mode); err != nil {
		return err
	}
	s.gate = tensor.Ensure(s.gate, z.Shape...)
	// float32 takes vmath's vector sigmoid: math.Exp on N·C values was
	// about 0.1 ms per block, run by one core while the other waited.
	actApply(Sigmoid, s.gate.Data, z.Data)
	return nil
}

// scaleRange computes out = x·gate for spatial rows [lo, hi). float32
// runs on the vector kernels of package chanops, one call per sample's
// share of the rows; float64, the reference, stays a plain loop.
func (s *SqueezeExcite[T]) scaleRange(lo, hi int) {
	if s32, ok := any(s).(*SqueezeExcite[float32]); ok {
		for r := lo; r < hi; {
			b := r / s.hw
			end := min(hi, (b+1)*s.hw)
			c := s.Channels
			chanops.ScaleRows(s32.y.Data[r*c:end*c], s32.x.Data[r*c:end*c], s32.gate.Data[b*c:(b+1)*c])
			r = end
		}
		return
	}
	c := s.Channels
	for r := lo; r < hi; r++ {
		g := s.gate.Data[(r/s.hw)*c : (r/s.hw+1)*c]
		x, y := s.x.Data[r*c:(r+1)*c], s.y.Data[r*c:(r+1)*c]
		for j, v := range x {
			y[j] = v * g[j]
		}
	}
}

func (s *SqueezeExcite[T]) Backward(dy *Tensor[T]) (*Tensor[T], error) {
	if !s.ready {
		return nil, backwardWithoutTrainForward(s.String())
	}
	if !dy.HasShape(s.x.Shape...) {
		return nil, gradShapeError(s.String(), s.x.Shape, dy.Shape)
	}
	n := s.x.Shape[0]
	s.dy = dy
	// The gate's gradient is Σ over H, W of dy·x; times σ' it is the
	// gradient wrt Expand's output.
	s.dgate = tensor.Ensure(s.dgate, n, s.Channels)
	parallel.For(n, max(1, ewGrain/(s.hw*s.Channels)), s.gateGrad)
	g, err := s.Expand.Backward(s.dgate)
	if err != nil {
		return nil, err
	}
	if g, err = s.act.Backward(g); err != nil {
		return nil, err
	}
	if g, err = s.Reduce.Backward(g); err != nil {
		return nil, err
	}
	// x reaches the output directly (x·gate) and through the pooled mean,
	// so dx = dy·gate + dpooled/(H·W); g now holds dpooled.
	s.dpMean = tensor.Ensure(s.dpMean, n, s.Channels)
	inv := 1 / T(s.hw)
	for i, v := range g.Data {
		s.dpMean.Data[i] = v * inv
	}
	dx := dy
	if !s.GradInPlace {
		s.dx = tensor.Ensure(s.dx, s.x.Shape...)
		dx = s.dx
	}
	// Each element of dx depends on the same element of dy only (the sums
	// over dy are done), so the loop is safe with dx and dy the same memory.
	s.out = dx
	parallel.For(n*s.hw, max(1, ewGrain/s.Channels), s.dscale)
	s.dy, s.out = nil, nil
	return dx, nil
}

// gateGradRange computes the gate gradient of samples [lo, hi): the sum
// over H, W of dy·x per channel (on chanops' vector kernels for float32),
// times σ'.
func (s *SqueezeExcite[T]) gateGradRange(lo, hi int) {
	c, n := s.Channels, s.hw*s.Channels
	s32, is32 := any(s).(*SqueezeExcite[float32])
	for b := lo; b < hi; b++ {
		dg := s.dgate.Data[b*c : (b+1)*c]
		clear(dg)
		if is32 {
			chanops.ColDots(s32.dgate.Data[b*c:(b+1)*c], s32.x.Data[b*n:(b+1)*n], s32.dy.Data[b*n:(b+1)*n])
		} else {
			x, dy := s.x.Data[b*n:(b+1)*n], s.dy.Data[b*n:(b+1)*n]
			for i := 0; i < len(x); i += c {
				xr, dr := x[i:i+c], dy[i:i+c]
				for j := range dg {
					dg[j] += xr[j] * dr[j]
				}
			}
		}
		for j, gv := range s.gate.Data[b*c : (b+1)*c] {
			dg[j] *= gv * (1 - gv)
		}
	}
}

// dscaleRange computes dx = dy·gate + dpMean for spatial rows
// [lo, hi), on chanops' vector kernels for float32 (a sample's share of
// the rows per call) and a plain loop for float64.
func (s *SqueezeExcite[T]) dscaleRange(lo, hi int) {
	c, hw := s.Channels, s.hw
	s32, is32 := any(s).(*SqueezeExcite[float32])
	for r := lo; r < hi; {
		b := r / hw
		end := min(hi, (b+1)*hw)
		if is32 {
			dy, dx := s32.dy.Data[r*c:end*c], s32.out.Data[r*c:end*c]
			chanops.ScaleAddRows(dx, dy, s32.gate.Data[b*c:(b+1)*c], s32.dpMean.Data[b*c:(b+1)*c])
			r = end
			continue
		}
		g, dm := s.gate.Data[b*c:(b+1)*c], s.dpMean.Data[b*c:(b+1)*c]
		for ; r < end; r++ {
			dy, dx := s.dy.Data[r*c:(r+1)*c], s.out.Data[r*c:(r+1)*c]
			for j := range dx {
				dx[j] = dy[j]*g[j] + dm[j]
			}
		}
	}
}
