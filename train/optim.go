package train

import (
	"errors"
	"fmt"
	"math"

	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/layers"
)

// Optimizer updates a fixed set of parameters from their gradients.
//
// Step leaves every Param.Grad untouched, as PyTorch does; because
// Backward adds into Grad, the loop must call ZeroGrad before each
// backward pass.
//
// State returns the optimiser's internal tensors (momentum buffers, running
// squares) under names derived from the parameter names. The buffers alias
// the optimiser's storage: write them out before the next Step. LoadState
// copies a saved set back in; saving State and loading it into a fresh
// optimiser over the same parameters continues bit-identically.
type Optimizer[T layers.Float] interface {
	Step(lr float64) error
	ZeroGrad()
	State() []*layers.Buffer[T]
	LoadState(state []*layers.Buffer[T]) error
}

// ErrNonFinite is wrapped by every error that reports a NaN or infinite
// loss, gradient or learning rate.
var ErrNonFinite = errors.New("non-finite value")

// NormAndBias reports whether a parameter has at most one dimension: the
// scale and shift of a normalisation layer or a bias. Used as a NoDecay
// predicate it exempts them from weight decay, timm's rule
// (p.ndim <= 1) for filter_bias_and_bn.
func NormAndBias(name string, shape []int) bool { return len(shape) <= 1 }

// ZeroGrad sets the gradient of every parameter to zero.
func ZeroGrad[T layers.Float](params []*layers.Param[T]) {
	for _, p := range params {
		p.Grad.Zero()
	}
}

// CheckGrads returns an error wrapping ErrNonFinite that names the first
// parameter whose gradient holds a NaN or an infinity, or nil.
func CheckGrads[T layers.Float](params []*layers.Param[T]) error {
	for _, p := range params {
		// x*0 is 0 for finite x and NaN otherwise, so one branch-free
		// pass decides, and only a bad tensor is scanned again.
		var s T
		for _, v := range p.Grad.Data {
			s += v * 0
		}
		if s == 0 {
			continue
		}
		for i, v := range p.Grad.Data {
			if v*0 != 0 {
				return fmt.Errorf("train: gradient of %q is %v at index %d: %w", p.Name, v, i, ErrNonFinite)
			}
		}
	}
	return nil
}

// CheckLoss returns an error wrapping ErrNonFinite if loss is NaN or
// infinite.
func CheckLoss(loss float64) error {
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return fmt.Errorf("train: loss is %v: %w", loss, ErrNonFinite)
	}
	return nil
}

// slot is one parameter with its optimiser state and the weight decay that
// applies to it after the NoDecay predicate.
type slot[T layers.Float] struct {
	p     *layers.Param[T]
	wd    T
	state []*tensor.Tensor[T] // one per state kind, shaped like p.Value
}

// base holds what SGD and RMSProp share: the parameters, their state and
// the checkpoint naming.
type base[T layers.Float] struct {
	slots []slot[T]
	kinds []string // state names, suffixed to the parameter name
	init  []T      // initial value of each state kind
}

func newBase[T layers.Float](params []*layers.Param[T], weightDecay float64, noDecay func(string, []int) bool, kinds []string, init []T) (base[T], error) {
	if weightDecay < 0 || math.IsNaN(weightDecay) || math.IsInf(weightDecay, 0) {
		return base[T]{}, fmt.Errorf("train: weight decay %v must be finite and non-negative", weightDecay)
	}
	b := base[T]{slots: make([]slot[T], len(params)), kinds: kinds, init: init}
	seen := make(map[string]bool, len(params))
	for i, p := range params {
		switch {
		case p == nil || p.Value == nil || p.Grad == nil:
			return base[T]{}, fmt.Errorf("train: parameter %d (%q) has no value or gradient tensor", i, nameOf(p))
		case len(p.Value.Data) != len(p.Grad.Data):
			return base[T]{}, fmt.Errorf("train: parameter %q has %d values but %d gradients", p.Name, len(p.Value.Data), len(p.Grad.Data))
		case seen[p.Name]:
			// State is saved by name, so a repeated name would make a
			// checkpoint ambiguous.
			return base[T]{}, fmt.Errorf("train: parameter name %q is used twice; checkpointed optimiser state needs unique names", p.Name)
		}
		seen[p.Name] = true
		s := slot[T]{p: p, wd: T(weightDecay)}
		if noDecay != nil && noDecay(p.Name, p.Value.Shape) {
			s.wd = 0
		}
		for k := range kinds {
			t := tensor.New[T](p.Value.Shape...)
			if init[k] != 0 {
				for j := range t.Data {
					t.Data[j] = init[k]
				}
			}
			s.state = append(s.state, t)
		}
		b.slots[i] = s
	}
	return b, nil
}

func nameOf[T layers.Float](p *layers.Param[T]) string {
	if p == nil {
		return ""
	}
	return p.Name
}

// check is run at the start of every Step: a learning rate the schedule got
// wrong, or a parameter tensor replaced by one of another size since the
// optimiser was built, must not silently corrupt training.
func (b *base[T]) check(lr float64) error {
	if math.IsNaN(lr) || math.IsInf(lr, 0) {
		return fmt.Errorf("train: learning rate is %v: %w", lr, ErrNonFinite)
	}
	if lr < 0 {
		return fmt.Errorf("train: learning rate %v is negative", lr)
	}
	for _, s := range b.slots {
		n, made := len(s.p.Value.Data), len(s.p.Value.Data)
		if len(s.state) > 0 {
			made = len(s.state[0].Data)
		}
		if len(s.p.Grad.Data) != n || made != n {
			return fmt.Errorf("train: parameter %q has %d values and %d gradients, optimiser state was made for %d",
				s.p.Name, n, len(s.p.Grad.Data), made)
		}
	}
	return nil
}

// ZeroGrad sets the gradient of every parameter to zero.
func (b *base[T]) ZeroGrad() {
	for _, s := range b.slots {
		s.p.Grad.Zero()
	}
}

// State returns the optimiser state as buffers named
// "<parameter name>.<kind>", aliasing the optimiser's storage.
func (b *base[T]) State() []*layers.Buffer[T] {
	out := make([]*layers.Buffer[T], 0, len(b.slots)*len(b.kinds))
	for _, s := range b.slots {
		for k, kind := range b.kinds {
			out = append(out, &layers.Buffer[T]{Name: s.p.Name + "." + kind, Value: s.state[k]})
		}
	}
	return out
}

// LoadState copies saved state into the optimiser. The names must be
// exactly those State returns and every shape must match; on error the
// optimiser is unchanged.
func (b *base[T]) LoadState(state []*layers.Buffer[T]) error {
	want := b.State()
	byName := make(map[string]*layers.Buffer[T], len(state))
	for _, s := range state {
		if s == nil || s.Value == nil {
			return errors.New("train: optimiser state holds a nil buffer")
		}
		if byName[s.Name] != nil {
			return fmt.Errorf("train: optimiser state %q appears twice", s.Name)
		}
		byName[s.Name] = s
	}
	if len(byName) != len(want) {
		return fmt.Errorf("train: optimiser state has %d tensors, want %d", len(byName), len(want))
	}
	for _, w := range want {
		s := byName[w.Name]
		if s == nil {
			return fmt.Errorf("train: optimiser state %q is missing", w.Name)
		}
		if !s.Value.HasShape(w.Value.Shape...) || len(s.Value.Data) != len(w.Value.Data) {
			return fmt.Errorf("train: optimiser state %q has shape %v, want %v", w.Name, s.Value.Shape, w.Value.Shape)
		}
	}
	for _, w := range want {
		copy(w.Value.Data, byName[w.Name].Value.Data)
	}
	return nil
}

// SGDConfig configures stochastic gradient descent.
type SGDConfig struct {
	// Momentum μ in [0, 1); 0 is plain SGD.
	Momentum float64
	// Nesterov uses the Nesterov form of momentum; it needs Momentum > 0.
	Nesterov bool
	// WeightDecay λ is added to the gradient as λ·w before momentum (L2
	// regularisation, as PyTorch's SGD and the torchvision recipes do),
	// not decoupled from it.
	WeightDecay float64
	// NoDecay, if not nil, exempts the parameters for which it returns
	// true from weight decay; NormAndBias is timm's choice.
	NoDecay func(name string, shape []int) bool
}

// SGD is stochastic gradient descent with optional momentum, Nesterov
// momentum and L2 weight decay, with PyTorch's torch.optim.SGD semantics
// (dampening 0):
//
//	g   = grad + λ·w
//	buf = μ·buf + g          (buf starts at zero)
//	g   = g + μ·buf          if Nesterov, else g = buf
//	w   = w − lr·g
type SGD[T layers.Float] struct {
	base[T]
	momentum T
	nesterov bool
}

// NewSGD returns an SGD optimiser over params. The state, one momentum
// buffer per parameter named "<name>.momentum_buffer", starts at zero;
// with zero momentum there is no state.
func NewSGD[T layers.Float](params []*layers.Param[T], cfg SGDConfig) (*SGD[T], error) {
	if !(cfg.Momentum >= 0 && cfg.Momentum < 1) {
		return nil, fmt.Errorf("train: SGD momentum %v is not in [0, 1)", cfg.Momentum)
	}
	if cfg.Nesterov && cfg.Momentum == 0 {
		return nil, errors.New("train: Nesterov SGD needs a non-zero momentum")
	}
	var kinds []string
	var init []T
	if cfg.Momentum > 0 {
		kinds, init = []string{"momentum_buffer"}, []T{0}
	}
	b, err := newBase(params, cfg.WeightDecay, cfg.NoDecay, kinds, init)
	if err != nil {
		return nil, err
	}
	return &SGD[T]{base: b, momentum: T(cfg.Momentum), nesterov: cfg.Nesterov}, nil
}

// Step applies one update with learning rate lr. It returns an error, and
// changes nothing, if lr is negative or not finite or a parameter changed
// size since NewSGD.
func (o *SGD[T]) Step(lr float64) error {
	if err := o.check(lr); err != nil {
		return err
	}
	eta, mu := T(lr), o.momentum
	for _, s := range o.slots {
		w, g, wd := s.p.Value.Data, s.p.Grad.Data, s.wd
		g = g[:len(w)]
		switch {
		case mu == 0:
			for i, gi := range g {
				gi += wd * w[i]
				w[i] -= eta * gi
			}
		case !o.nesterov:
			buf := s.state[0].Data[:len(w)]
			for i, gi := range g {
				gi += wd * w[i]
				b := mu*buf[i] + gi
				buf[i] = b
				w[i] -= eta * b
			}
		default:
			buf := s.state[0].Data[:len(w)]
			for i, gi := range g {
				gi += wd * w[i]
				b := mu*buf[i] + gi
				buf[i] = b
				w[i] -= eta * (gi + mu*b)
			}
		}
	}
	return nil
}

// RMSPropConfig configures RMSProp with TensorFlow semantics.
type RMSPropConfig struct {
	// Decay ρ of the running mean of squared gradients, in [0, 1)
	// (PyTorch's alpha, TensorFlow's decay/rho).
	Decay float64
	// Momentum μ in [0, 1); 0 applies the scaled gradient directly.
	Momentum float64
	// Epsilon ε > 0, added to the mean square inside the square root.
	Epsilon float64
	// WeightDecay λ is added to the gradient as λ·w (L2, as the
	// TensorFlow recipe's loss term and timm's RMSpropTF default do).
	WeightDecay float64
	// NoDecay, if not nil, exempts the parameters for which it returns
	// true from weight decay; NormAndBias is timm's choice.
	NoDecay func(name string, shape []int) bool
}

// EfficientNetRMSProp returns the optimiser settings of the TensorFlow
// EfficientNet recipe: decay 0.9, momentum 0.9, ε 1e-3 and weight decay
// 1e-5 on every parameter except normalisation scales/shifts and biases.
func EfficientNetRMSProp() RMSPropConfig {
	return RMSPropConfig{Decay: 0.9, Momentum: 0.9, Epsilon: 1e-3, WeightDecay: 1e-5, NoDecay: NormAndBias}
}

// RMSProp is RMSProp as TensorFlow implements it (tf.compat.v1 RMSProp,
// timm's RMSpropTF with lr_in_momentum):
//
//	g   = grad + λ·w
//	ms  = ms + (1−ρ)·(g² − ms)          (ms starts at ONE)
//	buf = μ·buf + lr·g / sqrt(ms + ε)   (buf starts at zero)
//	w   = w − buf
//
// without momentum the last two lines are w = w − lr·g / sqrt(ms + ε).
//
// PyTorch's torch.optim.RMSprop differs in three ways that matter for the
// EfficientNet recipe: it starts ms at zero, so the first steps are huge
// (g/|g|·lr·√(1/(1−ρ))) rather than damped; it adds ε outside the square
// root, so ε = 1e-3 there is a floor of 1e-3 on the denominator instead of
// √1e-3 ≈ 0.032; and it multiplies by lr outside the momentum buffer, so
// after a learning-rate change the buffer still carries the old rate here
// but not there.
type RMSProp[T layers.Float] struct {
	base[T]
	decay, momentum, eps T
}

// NewRMSProp returns an RMSProp optimiser over params. Its state is
// "<name>.square_avg" (starting at one) and, with momentum,
// "<name>.momentum_buffer" (starting at zero) for each parameter.
func NewRMSProp[T layers.Float](params []*layers.Param[T], cfg RMSPropConfig) (*RMSProp[T], error) {
	if !(cfg.Decay >= 0 && cfg.Decay < 1) {
		return nil, fmt.Errorf("train: RMSProp decay %v is not in [0, 1)", cfg.Decay)
	}
	if !(cfg.Momentum >= 0 && cfg.Momentum < 1) {
		return nil, fmt.Errorf("train: RMSProp momentum %v is not in [0, 1)", cfg.Momentum)
	}
	if !(cfg.Epsilon > 0) || math.IsInf(cfg.Epsilon, 0) {
		return nil, fmt.Errorf("train: RMSProp epsilon %v must be positive and finite", cfg.Epsilon)
	}
	kinds, init := []string{"square_avg"}, []T{1}
	if cfg.Momentum > 0 {
		kinds, init = append(kinds, "momentum_buffer"), append(init, 0)
	}
	b, err := newBase(params, cfg.WeightDecay, cfg.NoDecay, kinds, init)
	if err != nil {
		return nil, err
	}
	return &RMSProp[T]{base: b, decay: T(cfg.Decay), momentum: T(cfg.Momentum), eps: T(cfg.Epsilon)}, nil
}

// Step applies one update with learning rate lr. It returns an error, and
// changes nothing, if lr is negative or not finite or a parameter changed
// size since NewRMSProp.
func (o *RMSProp[T]) Step(lr float64) error {
	if err := o.check(lr); err != nil {
		return err
	}
	eta, mu, eps := T(lr), o.momentum, o.eps
	oneMinusRho := T(1 - float64(o.decay))
	for _, s := range o.slots {
		w, g, wd := s.p.Value.Data, s.p.Grad.Data, s.wd
		g = g[:len(w)]
		ms := s.state[0].Data[:len(w)]
		if mu == 0 {
			for i, gi := range g {
				gi += wd * w[i]
				m := ms[i] + oneMinusRho*(gi*gi-ms[i])
				ms[i] = m
				w[i] -= eta * gi / T(math.Sqrt(float64(m+eps)))
			}
			continue
		}
		buf := s.state[1].Data[:len(w)]
		for i, gi := range g {
			gi += wd * w[i]
			m := ms[i] + oneMinusRho*(gi*gi-ms[i])
			ms[i] = m
			b := mu*buf[i] + eta*gi/T(math.Sqrt(float64(m+eps)))
			buf[i] = b
			w[i] -= b
		}
	}
	return nil
}
