package effnet

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/effnet-go/effnet/arch"
	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/layers"
	"github.com/effnet-go/effnet/mbconv"
)

// Model is an EfficientNet: stem conv + BN + act, the MBConv blocks, head
// 1×1 conv + BN + act, global average pool, dropout and the classifier.
// It is built from an arch.Network, so one type serves B0..B7 and every
// custom scaling.
//
// Parameters and buffers carry timm's state-dict names ("conv_stem.weight",
// "blocks.1.0.conv_dw.weight", "bn2.running_var", "classifier.bias"), so a
// timm checkpoint maps onto a Model name for name.
type Model[T layers.Float] struct {
	Spec arch.Network

	Stem       *layers.Conv2D[T]
	StemBN     *layers.BatchNorm2D[T]
	Blocks     []*mbconv.Block[T]
	Head       *layers.Conv2D[T]
	HeadBN     *layers.BatchNorm2D[T]
	Classifier *layers.Linear[T]

	// Hook, when set, is called during Forward with each named point of
	// the network and its NHWC activation: "conv_stem" (before BN), "bn1"
	// (stem BN + activation), "blocks.<stage>" (end of each stage),
	// "conv_head", "bn2" and "global_pool" ([N, C]). The tensor is only
	// valid during the call. Hook serves feature extraction and checks
	// against reference activations.
	Hook func(point string, t *tensor.Tensor[T])
	// SkipInputGrad makes Backward leave out the gradient with respect
	// to the input images, which training does not need, and return nil.
	// It saves the stem convolution's input-gradient product (a few
	// percent of a B0 training step). train.Trainer sets it.
	SkipInputGrad bool

	pool       *layers.GlobalAvgPool[T]
	dropout    *layers.Dropout[T]
	stageEnds  map[int]int       // block index → its stage
	head, stem []layers.Layer[T] // the layers after and before the blocks, in backward order

	params  []*layers.Param[T]
	buffers []*layers.Buffer[T]
	// Eval-mode epilogues of the stem and head convolutions (BatchNorm
	// and activation folded in; the head's also pools).
	stemEpi, headEpi layers.Epilogue[T]
	pooled           *tensor.Tensor[T]
	// evalBufs are the tensors every Eval-mode block shares (see
	// mbconv.Block.ShareEvalBuffers): two for block outputs in turn, one
	// for expanded and one for depthwise outputs.
	evalBufs [4]*tensor.Tensor[T]
	// gradBufs do the same for the gradients inside and between blocks
	// in Backward (see mbconv.Block.ShareGradBuffers).
	gradBufs [4]*tensor.Tensor[T]
	pcg      *rand.PCG // behind dropout and drop-path; see RNGState
}

// New builds the network spec describes with weights initialised as
// torchvision does (Kaiming-normal fan-out convolutions, BatchNorm 1 and 0,
// classifier uniform in ±1/√classes). seed drives the initialisation and,
// in training, dropout and drop-path.
func New[T layers.Float](spec arch.Network, seed uint64) (*Model[T], error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	pcg := rand.NewPCG(seed, 0x6566666e6574) // "effnet"
	rng := rand.New(pcg)
	pad := layers.PadSymmetric
	if spec.Padding == arch.Same {
		pad = layers.PadSame
	}
	act := layers.SiLU
	if spec.Activation == arch.ReLU {
		act = layers.ReLU
	}
	m := &Model[T]{Spec: spec.Clone(), stageEnds: map[int]int{}, pcg: pcg}
	var err error
	if m.Stem, err = layers.NewConv2D[T](layers.Conv2DConfig{In: spec.InChannels, Out: spec.Stem, Kernel: 3, Stride: 2, Groups: 1, Padding: pad}); err != nil {
		return nil, fmt.Errorf("effnet: stem: %w", err)
	}
	layers.InitKaimingNormalFanOut(m.Stem.Weight, rng)
	if m.StemBN, err = layers.NewBatchNorm2D[T](spec.Stem, spec.BNEps, spec.BNMomentum); err != nil {
		return nil, fmt.Errorf("effnet: stem: %w", err)
	}
	blocks := spec.Blocks()
	for _, b := range blocks {
		blk, err := mbconv.New[T](mbconv.Config{
			In: b.In, Mid: b.Mid, Out: b.Out, Kernel: b.Kernel, Stride: b.Stride, SE: b.SE,
			Skip: b.Skip, DropPath: dropPathIfSkip(b), Padding: pad,
			BNEps: spec.BNEps, BNMomentum: spec.BNMomentum, Act: act,
		}, rng)
		if err != nil {
			return nil, fmt.Errorf("effnet: block %d.%d: %w", b.Stage, b.IndexInStage, err)
		}
		m.Blocks = append(m.Blocks, blk)
		m.stageEnds[b.Index] = b.Stage
	}
	last := spec.Stem
	if len(blocks) > 0 {
		last = blocks[len(blocks)-1].Out
	}
	if m.Head, err = layers.NewConv2D[T](layers.Conv2DConfig{In: last, Out: spec.Head, Kernel: 1, Stride: 1, Groups: 1, Padding: pad}); err != nil {
		return nil, fmt.Errorf("effnet: head: %w", err)
	}
	layers.InitKaimingNormalFanOut(m.Head.Weight, rng)
	if m.HeadBN, err = layers.NewBatchNorm2D[T](spec.Head, spec.BNEps, spec.BNMomentum); err != nil {
		return nil, fmt.Errorf("effnet: head: %w", err)
	}
	m.pool = layers.NewGlobalAvgPool[T]()
	m.dropout = layers.NewDropout[T](spec.Dropout, rng)
	m.Classifier = layers.NewLinear[T](spec.Head, spec.Classes, true)
	r := 1 / math.Sqrt(float64(spec.Classes))
	layers.InitUniform(m.Classifier.Weight, -r, r, rng)
	// Both BatchNorms apply the activation themselves (see
	// layers.BatchNorm2D.Act). The gradients they receive are scratch
	// they may overwrite: the first block's input gradient and the
	// pooling layer's.
	m.StemBN.Act, m.HeadBN.Act = act, act
	m.StemBN.GradInPlace = true
	m.HeadBN.GradInPlace = true
	m.collect(blocks)
	for i := range m.evalBufs {
		m.evalBufs[i] = tensor.New[T](0)
		m.gradBufs[i] = tensor.New[T](0)
	}
	// Block i writes buffer i%2 and reads the other, which the stem
	// fills for block 0; the head's output is only pooled, so it can go
	// in the expansion buffer.
	// In Backward block i writes its input gradient into buffer i%2 and
	// receives block i+1's in the other; the last block's comes from the
	// head convolution, which keeps its own.
	for i, b := range m.Blocks {
		b.ShareEvalBuffers(m.evalBufs[2], m.evalBufs[3], m.evalBufs[i%2])
		b.ShareGradBuffers(m.gradBufs[2], m.gradBufs[3], m.gradBufs[i%2])
	}
	m.stemEpi = layers.Epilogue[T]{Scale: make([]T, spec.Stem), Bias: make([]T, spec.Stem), Act: act, Out: m.evalBufs[1]}
	m.headEpi = layers.Epilogue[T]{Scale: make([]T, spec.Head), Bias: make([]T, spec.Head), Act: act, Out: m.evalBufs[2]}
	m.head = []layers.Layer[T]{m.Classifier, m.dropout, m.pool, m.HeadBN, m.Head}
	m.stem = []layers.Layer[T]{m.StemBN, m.Stem}
	return m, nil
}

// NewPreset builds a released EfficientNet by name ("b0".."b7",
// "efficientnet_b0", "tf_efficientnet_b3", ...; see arch.Preset) for the
// given number of classes.
func NewPreset[T layers.Float](name string, classes int, seed uint64) (*Model[T], error) {
	spec, err := arch.Preset(name)
	if err != nil {
		return nil, err
	}
	spec.Classes = classes
	return New[T](spec, seed)
}

// dropPathIfSkip gives the block its stochastic-depth rate only when it has
// a residual path to drop (arch assigns rates to every block index).
func dropPathIfSkip(b arch.Block) float64 {
	if !b.Skip {
		return 0
	}
	return b.DropPath
}

func (m *Model[T]) collect(blocks []arch.Block) {
	add := func(prefix string, ps []*layers.Param[T]) {
		for _, p := range ps {
			m.params = append(m.params, &layers.Param[T]{Name: prefix + p.Name, Value: p.Value, Grad: p.Grad})
		}
	}
	addBN := func(prefix string, bn *layers.BatchNorm2D[T]) {
		add(prefix, bn.Params())
		for _, b := range bn.Buffers() {
			m.buffers = append(m.buffers, &layers.Buffer[T]{Name: prefix + b.Name, Value: b.Value})
		}
	}
	add("conv_stem.", m.Stem.Params())
	addBN("bn1.", m.StemBN)
	for i, b := range m.Blocks {
		prefix := fmt.Sprintf("blocks.%d.%d.", blocks[i].Stage, blocks[i].IndexInStage)
		add(prefix, b.Params())
		for _, buf := range b.Buffers() {
			m.buffers = append(m.buffers, &layers.Buffer[T]{Name: prefix + buf.Name, Value: buf.Value})
		}
	}
	add("conv_head.", m.Head.Params())
	addBN("bn2.", m.HeadBN)
	add("classifier.", m.Classifier.Params())
}

// Params returns every learnable tensor under its timm name, in network
// order. The slice and its Params are the model's own: an optimiser built
// on them updates the model.
func (m *Model[T]) Params() []*layers.Param[T] { return m.params }

// Buffers returns the BatchNorm running statistics under timm names.
func (m *Model[T]) Buffers() []*layers.Buffer[T] { return m.buffers }

// RNGState returns the state of the random generator that dropout and
// drop-path draw from in Train mode. A training checkpoint stores it so
// that a resumed run draws the same masks as an uninterrupted one.
func (m *Model[T]) RNGState() ([]byte, error) { return m.pcg.MarshalBinary() }

// SetRNGState restores a state returned by RNGState.
func (m *Model[T]) SetRNGState(state []byte) error {
	if err := m.pcg.UnmarshalBinary(state); err != nil {
		return fmt.Errorf("effnet: random generator state: %w", err)
	}
	return nil
}

// NumParams is the number of learnable scalars.
func (m *Model[T]) NumParams() int {
	n := 0
	for _, p := range m.params {
		n += p.Value.Len()
	}
	return n
}

// ZeroGrad clears every parameter gradient; Backward adds into them.
func (m *Model[T]) ZeroGrad() {
	for _, p := range m.params {
		p.Grad.Zero()
	}
}

func (m *Model[T]) hook(point string, t *tensor.Tensor[T]) {
	if m.Hook != nil {
		m.Hook(point, t)
	}
}

// Forward maps an NHWC image batch [N, H, W, InChannels], normalised as the
// weights expect, to logits [N, Classes]. Any spatial size works; the spec's
// Resolution is only the native one. The result is owned by the model and
// overwritten by the next Forward.
func (m *Model[T]) Forward(x *tensor.Tensor[T], mode layers.Mode) (*tensor.Tensor[T], error) {
	if len(x.Shape) != 4 || x.Shape[3] != m.Spec.InChannels {
		return nil, &layers.ShapeError{Layer: "effnet." + m.Spec.Name, Want: fmt.Sprintf("[N H W %d]", m.Spec.InChannels), Got: append([]int(nil), x.Shape...), Argument: "input"}
	}
	if mode == layers.Eval && m.Hook == nil {
		return m.forwardEval(x)
	}
	h, err := m.Stem.Forward(x, mode)
	if err != nil {
		return nil, err
	}
	m.hook("conv_stem", h)
	if h, err = m.StemBN.Forward(h, mode); err != nil {
		return nil, err
	}
	m.hook("bn1", h)
	for i, b := range m.Blocks {
		if h, err = b.Forward(h, mode); err != nil {
			return nil, err
		}
		if m.Hook != nil && (i == len(m.Blocks)-1 || m.stageEnds[i+1] != m.stageEnds[i]) {
			m.hook(fmt.Sprintf("blocks.%d", m.stageEnds[i]), h)
		}
	}
	if h, err = m.Head.Forward(h, mode); err != nil {
		return nil, err
	}
	m.hook("conv_head", h)
	if h, err = m.HeadBN.Forward(h, mode); err != nil {
		return nil, err
	}
	m.hook("bn2", h)
	if h, err = m.pool.Forward(h, mode); err != nil {
		return nil, err
	}
	m.hook("global_pool", h)
	if h, err = m.dropout.Forward(h, mode); err != nil {
		return nil, err
	}
	return m.Classifier.Forward(h, mode)
}

// forwardEval is Forward in Eval mode without hooks: each BatchNorm and
// activation is fused into its convolution, and the head convolution
// pools as it writes (see layers.Conv2D.ForwardEval), so that the
// intermediate tensors the hooks would see never exist.
func (m *Model[T]) forwardEval(x *tensor.Tensor[T]) (*tensor.Tensor[T], error) {
	m.StemBN.EvalAffine(m.stemEpi.Scale, m.stemEpi.Bias)
	h, err := m.Stem.ForwardEval(x, &m.stemEpi)
	if err != nil {
		return nil, err
	}
	for _, b := range m.Blocks {
		if h, err = b.Forward(h, layers.Eval); err != nil {
			return nil, err
		}
	}
	m.pooled = tensor.Ensure(m.pooled, h.Shape[0], m.Spec.Head)
	m.HeadBN.EvalAffine(m.headEpi.Scale, m.headEpi.Bias)
	m.headEpi.Means = m.pooled
	_, err = m.Head.ForwardEval(h, &m.headEpi)
	m.headEpi.Means = nil
	if err != nil {
		return nil, err
	}
	if h, err = m.dropout.Forward(m.pooled, layers.Eval); err != nil {
		return nil, err
	}
	return m.Classifier.Forward(h, layers.Eval)
}

// Backward takes the gradient of the loss with respect to the logits of the
// last Train-mode Forward and adds every parameter's gradient into its Grad.
// It returns the gradient with respect to the input images, or nil with
// SkipInputGrad.
func (m *Model[T]) Backward(dlogits *tensor.Tensor[T]) (*tensor.Tensor[T], error) {
	g := dlogits
	var err error
	for _, l := range m.head {
		if g, err = l.Backward(g); err != nil {
			return nil, err
		}
	}
	for i := len(m.Blocks) - 1; i >= 0; i-- {
		if g, err = m.Blocks[i].Backward(g); err != nil {
			return nil, err
		}
	}
	m.Stem.SkipInputGrad = m.SkipInputGrad
	for _, l := range m.stem {
		if g, err = l.Backward(g); err != nil {
			return nil, err
		}
	}
	return g, nil
}
