package train

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/effnet-go/effnet/internal/safetensors"
	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/layers"
)

// Checkpoint file layout. Everything a resumed run needs is in one
// safetensors file: tensors under a prefix naming their owner, in the
// model's own (NHWC/OHWI) layout and element type, so they load back
// bit for bit, and the counters in the metadata.
const (
	checkpointFormat = "effnet-train-checkpoint/1"

	prefixModel     = "model/"
	prefixOptimizer = "optimizer/"
	prefixEMA       = "ema/"

	metaFormat  = "format"
	metaDType   = "train.dtype"
	metaEpoch   = "train.epoch"
	metaStep    = "train.step"
	metaRNG     = "train.rng" // base64 of the model's RNGState
	metaHistory = "train.history"
	// metaSpec is the key effnet.Save uses, so effnet.SpecFromFile reads
	// the architecture from a checkpoint too.
	metaSpec = "effnet.spec"
)

func dtypeName[T layers.Float]() string {
	var z T
	if _, ok := any(z).(float32); ok {
		return "float32"
	}
	return "float64"
}

func toSafetensors[T layers.Float](name string, t *tensor.Tensor[T]) safetensors.Tensor {
	switch d := any(t.Data).(type) {
	case []float32:
		return safetensors.FromFloat32(name, d, t.Shape...)
	case []float64:
		return safetensors.FromFloat64(name, d, t.Shape...)
	}
	panic("train: unreachable element type")
}

func fromSafetensors[T layers.Float](f *safetensors.File, name string) (*tensor.Tensor[T], error) {
	var z T
	var data any
	var shape []int
	var err error
	if _, ok := any(z).(float32); ok {
		data, shape, err = f.Float32(name)
	} else {
		data, shape, err = f.Float64(name)
	}
	if err != nil {
		return nil, err
	}
	return &tensor.Tensor[T]{Shape: shape, Data: data.([]T)}, nil
}

// SaveCheckpoint writes the training state to path atomically (a temporary
// file renamed over path, so an interrupted write leaves the previous
// checkpoint intact): the model's parameters and buffers, the optimiser and
// EMA state, the model's random state, the epoch and step counters, the
// epoch history and, if Config.Spec is set, the architecture.
func (t *Trainer[T]) SaveCheckpoint(path string) error {
	var ts []safetensors.Tensor
	for _, p := range t.params {
		ts = append(ts, toSafetensors(prefixModel+p.Name, p.Value))
	}
	for _, b := range t.model.Buffers() {
		ts = append(ts, toSafetensors(prefixModel+b.Name, b.Value))
	}
	for _, b := range t.cfg.Optimizer.State() {
		ts = append(ts, toSafetensors(prefixOptimizer+b.Name, b.Value))
	}
	if t.cfg.EMA != nil {
		for _, b := range t.cfg.EMA.State() {
			ts = append(ts, toSafetensors(prefixEMA+b.Name, b.Value))
		}
	}
	rng, err := t.model.RNGState()
	if err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	hist, err := json.Marshal(t.history)
	if err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	meta := map[string]string{
		metaFormat:  checkpointFormat,
		metaDType:   dtypeName[T](),
		metaEpoch:   strconv.Itoa(t.epoch),
		metaStep:    strconv.Itoa(t.step),
		metaRNG:     base64.StdEncoding.EncodeToString(rng),
		metaHistory: string(hist),
	}
	if len(t.cfg.Spec.Stages) > 0 {
		spec, err := json.Marshal(t.cfg.Spec)
		if err != nil {
			return fmt.Errorf("train: checkpoint: %w", err)
		}
		meta[metaSpec] = string(spec)
	}
	if err := safetensors.WriteFile(path, ts, meta); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	return nil
}

// LoadCheckpoint restores a state written by SaveCheckpoint into the
// Trainer's model, optimiser and EMA, which must be built as they were for
// the saved run (same architecture, optimiser kind and EMA or none). Run
// then continues with the epoch after the saved one and, given the same
// data, schedule and configuration, produces bit-identical weights to a run
// that was never interrupted. On any error nothing is changed.
func (t *Trainer[T]) LoadCheckpoint(path string) error {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	if err := t.loadCheckpoint(f); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	return nil
}

func (t *Trainer[T]) loadCheckpoint(f *safetensors.File) error {
	if got := f.Metadata[metaFormat]; got != checkpointFormat {
		return fmt.Errorf("format %q, want %q (not a training checkpoint?)", got, checkpointFormat)
	}
	if got, want := f.Metadata[metaDType], dtypeName[T](); got != want {
		return fmt.Errorf("saved from a %s model, loading into %s", got, want)
	}
	epoch, err := strconv.Atoi(f.Metadata[metaEpoch])
	if err != nil || epoch < 0 {
		return fmt.Errorf("bad epoch %q", f.Metadata[metaEpoch])
	}
	step, err := strconv.Atoi(f.Metadata[metaStep])
	if err != nil || step < 0 {
		return fmt.Errorf("bad step %q", f.Metadata[metaStep])
	}
	var hist []EpochMetrics
	if err := json.Unmarshal([]byte(f.Metadata[metaHistory]), &hist); err != nil {
		return fmt.Errorf("bad history: %v", err)
	}
	rng, err := base64.StdEncoding.DecodeString(f.Metadata[metaRNG])
	if err != nil {
		return fmt.Errorf("bad random state: %v", err)
	}
	// Check the state decodes before anything is changed; the model's
	// own SetRNGState runs last.
	if err := rand.NewPCG(0, 0).UnmarshalBinary(rng); err != nil {
		return fmt.Errorf("bad random state: %v", err)
	}
	groups, err := splitGroups[T](f)
	if err != nil {
		return err
	}

	// Stage the model tensors, checking names and shapes.
	type target struct {
		name string
		dst  *tensor.Tensor[T]
	}
	var targets []target
	for _, p := range t.params {
		targets = append(targets, target{p.Name, p.Value})
	}
	for _, b := range t.model.Buffers() {
		targets = append(targets, target{b.Name, b.Value})
	}
	model := groups[prefixModel]
	var problems []string
	known := make(map[string]bool, len(targets))
	for _, tg := range targets {
		known[tg.name] = true
		src, ok := model[tg.name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("model tensor %q is missing", tg.name))
		case !slices.Equal(src.Shape, tg.dst.Shape):
			problems = append(problems, fmt.Sprintf("model tensor %q has shape %v, the model %v", tg.name, src.Shape, tg.dst.Shape))
		}
	}
	var extra []string
	for name := range model {
		if !known[name] {
			extra = append(extra, fmt.Sprintf("model tensor %q is not in the model", name))
		}
	}
	slices.Sort(extra)
	if problems = append(problems, extra...); len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	hasEMA := len(groups[prefixEMA]) > 0
	switch {
	case hasEMA && t.cfg.EMA == nil:
		return errors.New("the checkpoint has an EMA but the configuration none")
	case !hasEMA && t.cfg.EMA != nil:
		return errors.New("the configuration has an EMA but the checkpoint none")
	}

	// Optimiser and EMA check everything before they change anything;
	// keep the optimiser's state to undo its load if the EMA's fails.
	var undo []*layers.Buffer[T]
	for _, b := range t.cfg.Optimizer.State() {
		undo = append(undo, &layers.Buffer[T]{Name: b.Name, Value: b.Value.Clone()})
	}
	if err := t.cfg.Optimizer.LoadState(buffers(groups[prefixOptimizer])); err != nil {
		return err
	}
	if t.cfg.EMA != nil {
		if err := t.cfg.EMA.LoadState(buffers(groups[prefixEMA])); err != nil {
			if uerr := t.cfg.Optimizer.LoadState(undo); uerr != nil {
				panic("train: restoring the optimiser's own state failed: " + uerr.Error())
			}
			return err
		}
	}
	if err := t.model.SetRNGState(rng); err != nil {
		return err
	}
	for _, tg := range targets {
		copy(tg.dst.Data, model[tg.name].Data)
	}
	t.epoch, t.step, t.history = epoch, step, hist
	return nil
}

// splitGroups reads every tensor of f and sorts it by owner prefix.
func splitGroups[T layers.Float](f *safetensors.File) (map[string]map[string]*tensor.Tensor[T], error) {
	groups := map[string]map[string]*tensor.Tensor[T]{
		prefixModel: {}, prefixOptimizer: {}, prefixEMA: {},
	}
	for _, name := range f.Names() {
		found := false
		for prefix, g := range groups {
			rest, ok := strings.CutPrefix(name, prefix)
			if !ok {
				continue
			}
			v, err := fromSafetensors[T](f, name)
			if err != nil {
				return nil, err
			}
			g[rest] = v
			found = true
		}
		if !found {
			return nil, fmt.Errorf("tensor %q belongs to no part of the training state", name)
		}
	}
	return groups, nil
}

func buffers[T layers.Float](g map[string]*tensor.Tensor[T]) []*layers.Buffer[T] {
	out := make([]*layers.Buffer[T], 0, len(g))
	for name, v := range g {
		out = append(out, &layers.Buffer[T]{Name: name, Value: v})
	}
	return out
}
