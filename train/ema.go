package train

import (
	"errors"
	"fmt"
	"math"

	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/layers"
)

// EMAConfig configures an exponential moving average of model weights.
type EMAConfig struct {
	// Decay in [0, 1): each update keeps this share of the average
	// (timm uses 0.9998, TensorFlow EfficientNet 0.9999).
	Decay float64
	// WarmupPower, if positive, ramps the decay up as timm's ModelEmaV3
	// does: the n-th update (n = 1, 2, …) uses
	//	d = min(Decay, 1 − (1 + (n−1)/WarmupGamma)^−WarmupPower)
	// so the first update copies the weights and early averages do not
	// drag in the random initialisation. timm's defaults are power 2/3
	// (3/4 for short runs) and gamma 1.
	WarmupPower float64
	// WarmupGamma scales the warmup; zero means 1.
	WarmupGamma float64
	// CopyBuffers copies buffers (BatchNorm running statistics) instead
	// of averaging them. ModelEmaV2 and TensorFlow average them, the
	// default; ModelEmaV3's exclude_buffers copies.
	CopyBuffers bool
}

// EMA keeps an exponential moving average of a model's parameters and
// buffers, with timm's ModelEmaV2 update
//
//	ema = d·ema + (1 − d)·value
//
// applied to every parameter and, unless CopyBuffers, every buffer. The
// average starts as a copy of the values given to NewEMA.
//
// Evaluate with the average by calling Apply, which swaps the averaged
// values into the model's tensors, and Restore afterwards; the EMA keeps
// the training values meanwhile and refuses to Update until Restore.
type EMA[T layers.Float] struct {
	cfg     EMAConfig
	params  []*layers.Param[T]
	buffers []*layers.Buffer[T]
	shadow  []*tensor.Tensor[T] // params then buffers
	backup  []*tensor.Tensor[T] // training values while applied
	applied bool
	updates int
	counter *tensor.Tensor[T]
}

// EMAUpdatesName is the name of the update counter among the EMA's state
// tensors; no parameter or buffer may use it.
const EMAUpdatesName = "ema.num_updates"

// counterBase splits the update count into two parts that float32 holds
// exactly (it is exact only up to 2^24), so any realistic count survives a
// checkpoint.
const counterBase = 1 << 20

// NewEMA starts an average of params and buffers from their current
// values. The EMA keeps the slices and tensors it is given: Update reads
// them and Apply writes them, so they must stay the model's own.
func NewEMA[T layers.Float](params []*layers.Param[T], buffers []*layers.Buffer[T], cfg EMAConfig) (*EMA[T], error) {
	if !(cfg.Decay >= 0 && cfg.Decay < 1) {
		return nil, fmt.Errorf("train: EMA decay %v is not in [0, 1)", cfg.Decay)
	}
	if cfg.WarmupPower < 0 || math.IsNaN(cfg.WarmupPower) || math.IsInf(cfg.WarmupPower, 0) {
		return nil, fmt.Errorf("train: EMA warmup power %v must be finite and non-negative", cfg.WarmupPower)
	}
	if cfg.WarmupGamma < 0 || math.IsNaN(cfg.WarmupGamma) || math.IsInf(cfg.WarmupGamma, 0) {
		return nil, fmt.Errorf("train: EMA warmup gamma %v must be finite and non-negative", cfg.WarmupGamma)
	}
	if cfg.WarmupGamma == 0 {
		cfg.WarmupGamma = 1
	}
	e := &EMA[T]{cfg: cfg, params: params, buffers: buffers, counter: tensor.New[T](2)}
	seen := map[string]bool{EMAUpdatesName: true}
	add := func(name string, v *tensor.Tensor[T]) error {
		if v == nil {
			return fmt.Errorf("train: EMA: %q has no value tensor", name)
		}
		if seen[name] {
			return fmt.Errorf("train: EMA: name %q is used twice (or is reserved); checkpointed state needs unique names", name)
		}
		seen[name] = true
		e.shadow = append(e.shadow, v.Clone())
		return nil
	}
	for i, p := range params {
		if p == nil {
			return nil, fmt.Errorf("train: EMA: parameter %d is nil", i)
		}
		if err := add(p.Name, p.Value); err != nil {
			return nil, err
		}
	}
	for i, b := range buffers {
		if b == nil {
			return nil, fmt.Errorf("train: EMA: buffer %d is nil", i)
		}
		if err := add(b.Name, b.Value); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// value returns the model tensor the i-th shadow tracks.
func (e *EMA[T]) value(i int) *tensor.Tensor[T] {
	if i < len(e.params) {
		return e.params[i].Value
	}
	return e.buffers[i-len(e.params)].Value
}

func (e *EMA[T]) name(i int) string {
	if i < len(e.params) {
		return e.params[i].Name
	}
	return e.buffers[i-len(e.params)].Name
}

func (e *EMA[T]) checkSizes() error {
	for i, s := range e.shadow {
		if v := e.value(i); len(v.Data) != len(s.Data) {
			return fmt.Errorf("train: EMA: %q has %d values, the average has %d", e.name(i), len(v.Data), len(s.Data))
		}
	}
	return nil
}

// Decay returns the decay the next Update will use.
func (e *EMA[T]) Decay() float64 {
	if e.cfg.WarmupPower == 0 {
		return e.cfg.Decay
	}
	n := float64(e.updates) // this is update n+1, so timm's step−1 = n
	if n == 0 {
		return 0
	}
	return min(e.cfg.Decay, 1-math.Pow(1+n/e.cfg.WarmupGamma, -e.cfg.WarmupPower))
}

// Updates returns how many times Update has run, counting those before a
// checkpoint that LoadState restored.
func (e *EMA[T]) Updates() int { return e.updates }

// Update folds the current parameter and buffer values into the average.
// It fails while the average is applied (see Apply).
func (e *EMA[T]) Update() error {
	if e.applied {
		return errors.New("train: EMA: Update while the average is applied; call Restore first")
	}
	if err := e.checkSizes(); err != nil {
		return err
	}
	dec := e.Decay()
	d, od := T(dec), T(1-dec)
	for i, s := range e.shadow {
		v := e.value(i).Data
		a := s.Data[:len(v)]
		if i >= len(e.params) && e.cfg.CopyBuffers {
			copy(a, v)
			continue
		}
		for j, x := range v {
			a[j] = d*a[j] + od*x
		}
	}
	e.updates++
	return nil
}

// Apply puts the averaged values into the model's parameters and buffers,
// keeping the training values for Restore. The first call allocates the
// space for them.
func (e *EMA[T]) Apply() error {
	if e.applied {
		return errors.New("train: EMA: Apply twice without Restore")
	}
	if err := e.checkSizes(); err != nil {
		return err
	}
	if e.backup == nil {
		e.backup = make([]*tensor.Tensor[T], len(e.shadow))
		for i, s := range e.shadow {
			e.backup[i] = tensor.New[T](s.Shape...)
		}
	}
	for i, s := range e.shadow {
		v := e.value(i)
		copy(e.backup[i].Data, v.Data)
		copy(v.Data, s.Data)
	}
	e.applied = true
	return nil
}

// Restore puts back the training values that Apply replaced.
func (e *EMA[T]) Restore() error {
	if !e.applied {
		return errors.New("train: EMA: Restore without Apply")
	}
	if err := e.checkSizes(); err != nil {
		return err
	}
	for i, b := range e.backup {
		copy(e.value(i).Data, b.Data)
	}
	e.applied = false
	return nil
}

// State returns the averaged parameters and buffers under the model's own
// names, so they also load as a model, followed by the update counter
// named EMAUpdatesName (two elements, count mod 2^20 and count / 2^20, both
// exact in float32). The tensors alias the EMA's storage.
func (e *EMA[T]) State() []*layers.Buffer[T] {
	out := make([]*layers.Buffer[T], 0, len(e.shadow)+1)
	for i, s := range e.shadow {
		out = append(out, &layers.Buffer[T]{Name: e.name(i), Value: s})
	}
	e.counter.Data[0] = T(e.updates % counterBase)
	e.counter.Data[1] = T(e.updates / counterBase)
	return append(out, &layers.Buffer[T]{Name: EMAUpdatesName, Value: e.counter})
}

// LoadState copies a saved average and update counter into the EMA. The
// names must be exactly those State returns and every shape must match; on
// error the EMA is unchanged. It fails while the average is applied.
func (e *EMA[T]) LoadState(state []*layers.Buffer[T]) error {
	if e.applied {
		return errors.New("train: EMA: LoadState while the average is applied; call Restore first")
	}
	byName := make(map[string]*layers.Buffer[T], len(state))
	for _, s := range state {
		if s == nil || s.Value == nil {
			return errors.New("train: EMA state holds a nil buffer")
		}
		if byName[s.Name] != nil {
			return fmt.Errorf("train: EMA state %q appears twice", s.Name)
		}
		byName[s.Name] = s
	}
	want := e.State()
	if len(byName) != len(want) {
		return fmt.Errorf("train: EMA state has %d tensors, want %d", len(byName), len(want))
	}
	for _, w := range want {
		s := byName[w.Name]
		if s == nil {
			return fmt.Errorf("train: EMA state %q is missing", w.Name)
		}
		if !s.Value.HasShape(w.Value.Shape...) || len(s.Value.Data) != len(w.Value.Data) {
			return fmt.Errorf("train: EMA state %q has shape %v, want %v", w.Name, s.Value.Shape, w.Value.Shape)
		}
	}
	c := byName[EMAUpdatesName].Value.Data
	lo, hi := float64(c[0]), float64(c[1])
	if lo < 0 || lo >= counterBase || hi < 0 || lo != math.Trunc(lo) || hi != math.Trunc(hi) || hi > math.MaxInt32 {
		return fmt.Errorf("train: EMA state %q holds %v, not an update count", EMAUpdatesName, c)
	}
	for _, w := range want[:len(want)-1] {
		copy(w.Value.Data, byName[w.Name].Value.Data)
	}
	e.updates = int(hi)*counterBase + int(lo)
	return nil
}
