package layers

import (
	"fmt"
	"math"

	"github.com/effnet-go/effnet/internal/parallel"
	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/internal/vmath"
)

// PyTorch's BatchNorm2d defaults, which torchvision's EfficientNet-B0..B7
// keep (B0 uses eps 1e-5 at momentum 0.1; the TensorFlow ports use eps
// 1e-3 and momentum 0.01).
const (
	DefaultBNEps      = 1e-5
	DefaultBNMomentum = 0.1
)

// BatchNorm2D normalises each channel of an NHWC [N, H, W, C] or a 2-d
// [N, C] input: y = (x - mean)/sqrt(var + Eps)·weight + bias.
//
// In Train mode mean and var are the batch statistics over every position
// but the channel (the biased variance, as PyTorch normalises with), and the
// running averages move towards them by Momentum, PyTorch's convention:
// running = (1-Momentum)·running + Momentum·batch, with the unbiased batch
// variance for running_var. Eval mode normalises with the running averages.
//
// Reductions accumulate in float64 whatever T is: a B0 stem channel at
// batch 32 sums 32·112·112 ≈ 400k values (1.6M at batch 128), where float32
// sums would lose about half their digits, and the gradient terms are
// differences of such sums. float32 runs its passes through package
// vmath, vectorised along the channels (contiguous in NHWC), with the
// sums still taken in float64 lanes.
type BatchNorm2D[T Float] struct {
	Weight      *Param[T]  // γ, initialised to 1
	Bias        *Param[T]  // β, initialised to 0
	RunningMean *Buffer[T] // initialised to 0
	RunningVar  *Buffer[T] // initialised to 1
	Eps         float64
	Momentum    float64
	// GradInPlace makes Backward write the input gradient over dy and
	// return dy itself rather than a tensor of the layer's own, saving
	// one activation-sized buffer in training. Set it only when dy is
	// scratch that nothing reads after this Backward, such as the input
	// gradient an activation layer returns; mbconv and effnet set it on
	// the BatchNorms followed by an activation.
	GradInPlace bool
	// Act, when not Identity, is applied to the normalised values inside
	// the layer: y = Act(BN(x)), timm's BatchNormAct2d. The normalised
	// tensor is then never stored: Forward writes Act's output straight
	// from x and Backward recomputes BN(x) a chunk at a time in cache.
	// That saves one activation-sized tensor per BatchNorm in training
	// and two of the five memory passes of BatchNorm + activation.
	Act Activation

	channels int

	x      *Tensor[T] // input of the last Train-mode Forward; nil otherwise
	out    *Tensor[T]
	dx     *Tensor[T]
	mean   []float64 // batch mean of the last Train-mode Forward
	invStd []float64 // 1/sqrt(batch var + Eps)
	meanT  []T       // the mean used by the last Forward (batch or running)
	scale  []T       // per-channel y = (x - meanT)·scale + shift of the last
	shift  []T       // Forward, kept for Backward's recomputation under Act
	xCoef  []T       // and Backward's dx = dz·gScale + (x - meanT)·xCoef + gShift
	gScale []T
	gShift []T
	base   []float64 // shift that keeps the one-pass variance exact
	part   []float64 // per-block partial sums
	z      []T       // per-block chunk of recomputed BN(x) for Act's gradient

	// Operands of the parallel loop bodies below, set only for the
	// duration of one call. The bodies are method values made once in
	// NewBatchNorm2D, so that handing them to parallel.For does not
	// allocate a closure per call.
	src, grad, dst  []T
	rows, blocks    int
	sumsX, sumsGrad func(lo, hi int) // per-block sums of a Forward / Backward
	norm, gradInput func(lo, hi int) // rows of y = affine(x) / dx
}

// NewBatchNorm2D returns a batch normalisation over the given number of
// channels; use DefaultBNEps and DefaultBNMomentum for PyTorch's defaults.
func NewBatchNorm2D[T Float](channels int, eps, momentum float64) (*BatchNorm2D[T], error) {
	switch {
	case channels <= 0:
		return nil, fmt.Errorf("layers: BatchNorm2D channels must be positive, got %d", channels)
	case !(eps > 0):
		return nil, fmt.Errorf("layers: BatchNorm2D eps must be positive, got %g", eps)
	case !(momentum >= 0 && momentum <= 1):
		return nil, fmt.Errorf("layers: BatchNorm2D momentum must be in [0, 1], got %g", momentum)
	}
	bn := &BatchNorm2D[T]{
		Weight:      newParam[T]("weight", channels),
		Bias:        newParam[T]("bias", channels),
		RunningMean: &Buffer[T]{Name: "running_mean", Value: tensor.New[T](channels)},
		RunningVar:  &Buffer[T]{Name: "running_var", Value: tensor.New[T](channels)},
		Eps:         eps,
		Momentum:    momentum,
		channels:    channels,
		mean:        make([]float64, channels),
		invStd:      make([]float64, channels),
		meanT:       make([]T, channels),
		scale:       make([]T, channels),
		shift:       make([]T, channels),
		xCoef:       make([]T, channels),
		gScale:      make([]T, channels),
		gShift:      make([]T, channels),
		base:        make([]float64, channels),
	}
	for i := range channels {
		bn.Weight.Value.Data[i] = 1
		bn.RunningVar.Value.Data[i] = 1
	}
	bn.sumsX = bn.sumsXRange
	bn.sumsGrad = bn.sumsGradRange
	bn.norm = bn.normRange
	bn.gradInput = bn.gradInputRange
	return bn, nil
}

// Params returns the weight and bias.
func (bn *BatchNorm2D[T]) Params() []*Param[T] { return []*Param[T]{bn.Weight, bn.Bias} }

// Buffers returns the running mean and variance.
func (bn *BatchNorm2D[T]) Buffers() []*Buffer[T] { return []*Buffer[T]{bn.RunningMean, bn.RunningVar} }

func (bn *BatchNorm2D[T]) String() string {
	if bn.Act != Identity {
		return fmt.Sprintf("BatchNorm2D(%d)+%v", bn.channels, bn.Act)
	}
	return fmt.Sprintf("BatchNorm2D(%d)", bn.channels)
}

// Forward normalises x and returns a tensor of the same shape, owned by the
// layer and overwritten by the next Forward. In Train mode it also updates
// the running statistics.
func (bn *BatchNorm2D[T]) Forward(x *Tensor[T], mode Mode) (*Tensor[T], error) {
	C := bn.channels
	if (x.Dims() != 4 && x.Dims() != 2) || x.Shape[x.Dims()-1] != C || x.Len() == 0 {
		return nil, &ShapeError{Layer: bn.String(), Want: fmt.Sprintf("[N H W %d] or [N %d]", C, C), Got: x.Shape, Argument: "input"}
	}
	rows := x.Len() / C
	bn.x = nil
	bn.out = tensor.Ensure(bn.out, x.Shape...)
	if mode == Train {
		if rows < 2 {
			return nil, fmt.Errorf("layers: %s: training needs more than one value per channel, got input %v", bn, x.Shape)
		}
		bn.batchStats(x.Data, rows)
		bn.x = x
	} else {
		bn.evalAffine()
	}
	bn.dst, bn.src = bn.out.Data, x.Data
	parallel.For(rows, convGrain(C), bn.norm)
	bn.dst, bn.src = nil, nil
	return bn.out, nil
}

// batchStats computes the batch mean and variance in one pass, updates the
// running statistics and sets scale and shift for the forward. Sums are of
// x - base with base the first row, so that E[d²] - E[d]² does not cancel
// catastrophically when a channel's mean is large against its spread.
func (bn *BatchNorm2D[T]) batchStats(x []T, rows int) {
	C := bn.channels
	for j := range C {
		bn.base[j] = float64(x[j])
	}
	p := convBlocks(rows)
	bn.part = convEnsure(bn.part, 2*p*C)
	base := bn.base
	bn.src, bn.rows, bn.blocks = x, rows, p
	parallel.For(p, 1, bn.sumsX)
	bn.src = nil
	n := float64(rows)
	m := bn.Momentum
	gamma, beta := bn.Weight.Value.Data, bn.Bias.Value.Data
	rm, rv := bn.RunningMean.Value.Data, bn.RunningVar.Value.Data
	for j := range C {
		var s1, s2 float64
		for blk := range p {
			s1 += bn.part[2*blk*C+j]
			s2 += bn.part[(2*blk+1)*C+j]
		}
		d := s1 / n
		variance := max(s2/n-d*d, 0)
		mean := base[j] + d
		inv := 1 / math.Sqrt(variance+bn.Eps)
		bn.mean[j], bn.invStd[j] = mean, inv
		sc := float64(gamma[j]) * inv
		bn.meanT[j] = T(mean)
		bn.scale[j] = T(sc)
		bn.shift[j] = beta[j]
		rm[j] = T((1-m)*float64(rm[j]) + m*mean)
		rv[j] = T((1-m)*float64(rv[j]) + m*variance*n/(n-1))
	}
}

// sumsXRange sums x - base and its square per channel over the rows of
// blocks [lo, hi), into each block's partial sums.
func (bn *BatchNorm2D[T]) sumsXRange(lo, hi int) {
	C, rows, p, x, base := bn.channels, bn.rows, bn.blocks, bn.src, bn.base
	for blk := lo; blk < hi; blk++ {
		s1 := bn.part[2*blk*C : (2*blk+1)*C]
		s2 := bn.part[(2*blk+1)*C : (2*blk+2)*C]
		clear(s1)
		clear(s2)
		r0, r1 := blk*rows/p, (blk+1)*rows/p
		if x32, ok := any(x[r0*C : r1*C]).([]float32); ok {
			vmath.CenteredSums(s1, s2, x32, base)
			continue
		}
		for r := r0; r < r1; r++ {
			row := x[r*C : (r+1)*C]
			for j, v := range row {
				d := float64(v) - base[j]
				s1[j] += d
				s2[j] += d * d
			}
		}
	}
}

// sumsGradRange sums dy and dy·(x - mean) per channel over the rows of
// blocks [lo, hi), into each block's partial sums.
func (bn *BatchNorm2D[T]) sumsGradRange(lo, hi int) {
	C, rows, p, x, g, mean := bn.channels, bn.rows, bn.blocks, bn.src, bn.grad, bn.mean
	for blk := lo; blk < hi; blk++ {
		sg := bn.part[2*blk*C : (2*blk+1)*C]
		sgx := bn.part[(2*blk+1)*C : (2*blk+2)*C]
		clear(sg)
		clear(sgx)
		r0, r1 := blk*rows/p, (blk+1)*rows/p
		if bn.Act != Identity {
			bn.actGradSums(blk, r0, r1, sg, sgx)
			continue
		}
		if g32, ok := any(g[r0*C : r1*C]).([]float32); ok {
			vmath.CenteredGradSums(sg, sgx, g32, any(x[r0*C:r1*C]).([]float32), mean)
			continue
		}
		for r := r0; r < r1; r++ {
			xr, gr := x[r*C:(r+1)*C], g[r*C:(r+1)*C]
			for j, v := range gr {
				gv := float64(v)
				sg[j] += gv
				sgx[j] += gv * (float64(xr[j]) - mean[j])
			}
		}
	}
}

// actGradSums is sumsGradRange for rows [r0, r1) of block blk when the
// layer applies Act: it turns dy (the gradient of Act's output) into
// dz = dy·Act'(BN(x)) in dst, recomputing BN(x) a chunk at a time into the
// block's scratch, and sums dz and dz·(x - mean) per channel while the
// chunk is in cache.
func (bn *BatchNorm2D[T]) actGradSums(blk, r0, r1 int, sg, sgx []float64) {
	C, x, g, dst, mean := bn.channels, bn.src, bn.grad, bn.dst, bn.mean
	step := bnChunkRows(C)
	z := bn.z[blk*step*C : (blk+1)*step*C]
	for a := r0; a < r1; a += step {
		b := min(a+step, r1)
		zc, xc, dz := z[:(b-a)*C], x[a*C:b*C], dst[a*C:b*C]
		bn.normRows(zc, xc)
		actGrad(bn.Act, dz, g[a*C:b*C], zc)
		if dz32, ok := any(dz).([]float32); ok {
			vmath.CenteredGradSums(sg, sgx, dz32, any(xc).([]float32), mean)
			continue
		}
		for r := 0; r < len(xc); r += C {
			for j, v := range dz[r : r+C] {
				gv := float64(v)
				sg[j] += gv
				sgx[j] += gv * (float64(xc[r+j]) - mean[j])
			}
		}
	}
}

// normRange computes dst = (x - mean)·scale + shift per channel for rows
// [lo, hi). Subtracting the mean first, rather than folding it into the
// shift, keeps float32 exact to its precision even when a channel's mean
// is large against its spread.
func (bn *BatchNorm2D[T]) normRange(lo, hi int) {
	C, dst, src := bn.channels, bn.dst, bn.src
	// With an activation, rows go in chunks small enough to stay in L1
	// between the normalisation and the activation.
	step := hi - lo
	if bn.Act != Identity {
		step = bnChunkRows(C)
	}
	for r0 := lo; r0 < hi; r0 += step {
		r1 := min(r0+step, hi)
		d, xv := dst[r0*C:r1*C], src[r0*C:r1*C]
		bn.normRows(d, xv)
		if bn.Act != Identity {
			actApply(bn.Act, d, d)
		}
	}
}

// bnChunkRows is the number of rows of c channels in a chunk of about
// 16 KB of float32, which stays in L1 between the passes over it.
func bnChunkRows(c int) int { return max(1, 4096/c) }

// normRows sets d = (x - meanT)·scale + shift over whole rows.
func (bn *BatchNorm2D[T]) normRows(d, x []T) {
	if d32, ok := any(d).([]float32); ok {
		vmath.NormRows(d32, any(x).([]float32),
			any(bn.meanT).([]float32), any(bn.scale).([]float32), any(bn.shift).([]float32))
		return
	}
	C := bn.channels
	m, sc, sh := bn.meanT[:C], bn.scale[:C], bn.shift[:C]
	for r := 0; r+C <= len(x); r += C {
		dr, xr := d[r:r+C], x[r:r+C]
		for j := range dr {
			dr[j] = (xr[j]-m[j])*sc[j] + sh[j]
		}
	}
}

// gradInputRange computes dx = dy·scale + (x - mean)·xCoef + shift per
// channel for rows [lo, hi).
func (bn *BatchNorm2D[T]) gradInputRange(lo, hi int) {
	C, dst, grad, src := bn.channels, bn.dst, bn.grad, bn.src
	if d32, ok := any(dst[lo*C : hi*C]).([]float32); ok {
		vmath.NormGradRows(d32, any(grad[lo*C:hi*C]).([]float32), any(src[lo*C:hi*C]).([]float32),
			any(bn.meanT).([]float32), any(bn.gScale).([]float32), any(bn.xCoef).([]float32), any(bn.gShift).([]float32))
		return
	}
	for r := lo; r < hi; r++ {
		d, g, xv := dst[r*C:(r+1)*C], grad[r*C:(r+1)*C], src[r*C:(r+1)*C]
		m, a, xc, sh := bn.meanT[:len(d)], bn.gScale[:len(d)], bn.xCoef[:len(d)], bn.gShift[:len(d)]
		for j := range d {
			d[j] = g[j]*a[j] + (xv[j]-m[j])*xc[j] + sh[j]
		}
	}
}

// evalAffine sets the normalisation from the running statistics.
func (bn *BatchNorm2D[T]) evalAffine() {
	gamma, beta := bn.Weight.Value.Data, bn.Bias.Value.Data
	rm, rv := bn.RunningMean.Value.Data, bn.RunningVar.Value.Data
	for j := range bn.channels {
		bn.meanT[j] = rm[j]
		bn.scale[j] = T(float64(gamma[j]) / math.Sqrt(float64(rv[j])+bn.Eps))
		bn.shift[j] = beta[j]
	}
}

// Backward takes dy for the last Train-mode Forward, adds the weight and
// bias gradients and returns the input gradient through the batch
// statistics:
//
//	dx = γ/σ · (dy - mean(dy) - x̂·mean(dy·x̂)),  x̂ = (x - μ)/σ.
func (bn *BatchNorm2D[T]) Backward(dy *Tensor[T]) (*Tensor[T], error) {
	if bn.x == nil {
		return nil, fmt.Errorf("layers: %s: Backward without a preceding Train-mode Forward", bn)
	}
	if !dy.HasShape(bn.x.Shape...) {
		return nil, &ShapeError{Layer: bn.String(), Want: fmt.Sprint(bn.x.Shape), Got: dy.Shape, Argument: "gradient"}
	}
	C := bn.channels
	rows := dy.Len() / C
	x, g := bn.x.Data, dy.Data
	p := convBlocks(rows)
	bn.part = convEnsure(bn.part, 2*p*C)
	dx := dy
	if !bn.GradInPlace {
		bn.dx = tensor.Ensure(bn.dx, dy.Shape...)
		dx = bn.dx
	}
	bn.src, bn.grad, bn.rows, bn.blocks = x, g, rows, p
	if bn.Act != Identity {
		// The first pass writes Act's input gradient dz into dx; the
		// second turns it into BatchNorm's input gradient in place.
		bn.z = convEnsure(bn.z, p*bnChunkRows(C)*C)
		bn.dst = dx.Data
		parallel.For(p, 1, bn.sumsGrad)
		bn.grad = dx.Data
	} else {
		parallel.For(p, 1, bn.sumsGrad)
	}
	n := float64(rows)
	gamma := bn.Weight.Value.Data
	for j := range C {
		var sg, sgx float64
		for blk := range p {
			sg += bn.part[2*blk*C+j]
			sgx += bn.part[(2*blk+1)*C+j]
		}
		inv := bn.invStd[j]
		dgamma := sgx * inv // Σ dy·x̂
		bn.Weight.Grad.Data[j] += T(dgamma)
		bn.Bias.Grad.Data[j] += T(sg)
		a := float64(gamma[j]) * inv
		xc := -a * inv * dgamma / n // coefficient of (x - μ)
		bn.gScale[j] = T(a)
		bn.xCoef[j] = T(xc)
		bn.gShift[j] = T(-a * sg / n)
	}
	// Each element of dx depends on the same element of dy only, so the
	// loop is safe with dx and dy the same memory.
	bn.dst = dx.Data
	parallel.For(rows, convGrain(C), bn.gradInput)
	bn.src, bn.grad, bn.dst = nil, nil, nil
	return dx, nil
}
