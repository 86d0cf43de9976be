package effnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/effnet-go/effnet/arch"
	"github.com/effnet-go/effnet/internal/safetensors"
	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/layers"
)

// specKey is the safetensors metadata key under which Save stores the
// model's arch.Network as JSON, so that Load needs no flags.
const specKey = "effnet.spec"

// Save writes the parameters and buffers to path as safetensors,
// atomically. Tensors are stored under timm's names in PyTorch's layout
// (NCHW convolution weights [out, in/groups, kh, kw], squeeze-excite
// weights [out, in, 1, 1]), so the file is also a valid timm state dict,
// and the spec goes into the metadata.
func (m *Model[T]) Save(path string) error {
	meta, err := m.metadata()
	if err != nil {
		return err
	}
	return safetensors.WriteFile(path, m.stateTensors(), meta)
}

func (m *Model[T]) metadata() (map[string]string, error) {
	spec, err := json.Marshal(m.Spec)
	if err != nil {
		return nil, err
	}
	return map[string]string{specKey: string(spec), "format": "pt"}, nil
}

// stateTensors returns every parameter and buffer in PyTorch layout.
func (m *Model[T]) stateTensors() []safetensors.Tensor {
	var out []safetensors.Tensor
	add := func(name string, v *tensor.Tensor[T]) {
		t := torchLayout(name, v)
		switch data := any(t.Data).(type) {
		case []float32:
			out = append(out, safetensors.FromFloat32(name, data, t.Shape...))
		case []float64:
			out = append(out, safetensors.FromFloat64(name, data, t.Shape...))
		}
	}
	for _, p := range m.params {
		add(p.Name, p.Value)
	}
	for _, b := range m.buffers {
		add(b.Name, b.Value)
	}
	return out
}

// isSEWeight reports whether a timm name is a squeeze-excite 1×1 conv
// weight, which effnet keeps as a [out, in] matrix.
func isSEWeight(name string) bool {
	return strings.HasSuffix(name, "se.conv_reduce.weight") || strings.HasSuffix(name, "se.conv_expand.weight")
}

// torchLayout converts an effnet tensor to the layout PyTorch stores.
func torchLayout[T layers.Float](name string, v *tensor.Tensor[T]) *tensor.Tensor[T] {
	switch {
	case len(v.Shape) == 4:
		// OHWI → OIHW is the NHWC → NCHW permutation.
		return tensor.NHWCToNCHW(v)
	case isSEWeight(name):
		return &tensor.Tensor[T]{Shape: []int{v.Shape[0], v.Shape[1], 1, 1}, Data: v.Data}
	}
	return v
}

// LoadError lists everything that kept a weights file from matching the
// model. Nothing is changed when it is returned.
type LoadError struct {
	Path       string
	Missing    []string // model tensors the file lacks
	Unexpected []string // file tensors the model has no place for
	Mismatched []string // "name: file [..] model [..]"
}

func (e *LoadError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "effnet: %s does not match the model:", e.Path)
	list := func(what string, names []string) {
		if len(names) == 0 {
			return
		}
		const show = 10
		fmt.Fprintf(&b, " %d %s (", len(names), what)
		b.WriteString(strings.Join(names[:min(show, len(names))], ", "))
		if len(names) > show {
			fmt.Fprintf(&b, ", and %d more", len(names)-show)
		}
		b.WriteString(");")
	}
	list("missing", e.Missing)
	list("unexpected", e.Unexpected)
	list("mis-shaped", e.Mismatched)
	return strings.TrimSuffix(b.String(), ";")
}

// LoadWeights reads a safetensors state dict into the model: effnet's own
// checkpoints, timm's EfficientNet state dicts (efficientnet_b*,
// tf_efficientnet_b*) or torchvision's (features.N..., classifier.1), in
// float32 or float64. The naming is detected from the file. Loading is
// strict: every model tensor must be present with the right shape and
// nothing may be left over ("num_batches_tracked" counters are ignored).
// On any error the model is unchanged.
func (m *Model[T]) LoadWeights(path string) error {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return fmt.Errorf("effnet: %w", err)
	}
	return m.load(path, f)
}

func (m *Model[T]) load(path string, f *safetensors.File) error {
	names, err := fileNames(f, m.Spec)
	if err != nil {
		return fmt.Errorf("effnet: %s: %w", path, err)
	}
	type target struct {
		name string
		dst  *tensor.Tensor[T]
	}
	var targets []target
	for _, p := range m.params {
		targets = append(targets, target{p.Name, p.Value})
	}
	for _, b := range m.buffers {
		targets = append(targets, target{b.Name, b.Value})
	}
	lerr := &LoadError{Path: path}
	staged := make([]*tensor.Tensor[T], len(targets))
	used := map[string]bool{}
	for i, tg := range targets {
		src, ok := names[tg.name]
		if !ok {
			lerr.Missing = append(lerr.Missing, tg.name)
			continue
		}
		used[src] = true
		data, shape, err := f.Float64(src)
		if err != nil {
			return fmt.Errorf("effnet: %s: %w", path, err)
		}
		want := torchLayout(tg.name, tg.dst).Shape
		if !slices.Equal(shape, want) {
			lerr.Mismatched = append(lerr.Mismatched, fmt.Sprintf("%s: file %v, model %v", src, shape, want))
			continue
		}
		t := tensor.New[T](shape...)
		for j, v := range data {
			t.Data[j] = T(v)
		}
		if len(shape) == 4 && !isSEWeight(tg.name) {
			t = tensor.NCHWToNHWC(t)
		}
		staged[i] = t
	}
	for _, n := range f.Names() {
		if !used[n] && !strings.HasSuffix(n, "num_batches_tracked") {
			lerr.Unexpected = append(lerr.Unexpected, n)
		}
	}
	if len(lerr.Missing)+len(lerr.Unexpected)+len(lerr.Mismatched) > 0 {
		return lerr
	}
	for i, tg := range targets {
		copy(tg.dst.Data, staged[i].Data)
	}
	return nil
}

// fileNames maps each model name to the name the file uses for it. For a
// torchvision state dict it translates module paths; otherwise names are
// timm's (which effnet's own checkpoints use too).
func fileNames(f *safetensors.File, spec arch.Network) (map[string]string, error) {
	names := map[string]string{}
	if f.Tensor("features.0.0.weight") == nil {
		for _, n := range f.Names() {
			names[n] = n
		}
		return names, nil
	}
	blocks := spec.Blocks()
	expand := map[[2]int]bool{}
	for _, b := range blocks {
		expand[[2]int{b.Stage, b.IndexInStage}] = b.HasExpand()
	}
	headIdx := len(spec.Stages) + 1
	for _, n := range f.Names() {
		if timm, ok := torchvisionToTimm(n, headIdx, expand); ok {
			names[timm] = n
		}
	}
	return names, nil
}

var tvBlock = regexp.MustCompile(`^features\.(\d+)\.(\d+)\.block\.(\d+)\.(\w+)\.(\w+)$`)

// torchvisionToTimm translates one torchvision EfficientNet state-dict name
// to timm's. torchvision numbers the stem features.0, the stages
// features.1..S and the head features.S+1; inside a block, the sequence
// is [expand], depthwise, squeeze-excite, project.
func torchvisionToTimm(n string, headIdx int, expand map[[2]int]bool) (string, bool) {
	switch {
	case strings.HasPrefix(n, "features.0.0."):
		return "conv_stem." + strings.TrimPrefix(n, "features.0.0."), true
	case strings.HasPrefix(n, "features.0.1."):
		return "bn1." + strings.TrimPrefix(n, "features.0.1."), true
	case strings.HasPrefix(n, fmt.Sprintf("features.%d.0.", headIdx)):
		return "conv_head." + strings.TrimPrefix(n, fmt.Sprintf("features.%d.0.", headIdx)), true
	case strings.HasPrefix(n, fmt.Sprintf("features.%d.1.", headIdx)):
		return "bn2." + strings.TrimPrefix(n, fmt.Sprintf("features.%d.1.", headIdx)), true
	case strings.HasPrefix(n, "classifier.1."):
		return "classifier." + strings.TrimPrefix(n, "classifier.1."), true
	}
	g := tvBlock.FindStringSubmatch(n)
	if g == nil {
		return "", false
	}
	stage, _ := strconv.Atoi(g[1])
	idx, _ := strconv.Atoi(g[2])
	part, _ := strconv.Atoi(g[3])
	sub, leaf := g[4], g[5]
	hasExpand, ok := expand[[2]int{stage - 1, idx}]
	if !ok {
		return "", false
	}
	var seq [][2]string // per block part: names of its conv (sub "0") and BN (sub "1")
	if hasExpand {
		seq = [][2]string{{"conv_pw", "bn1"}, {"conv_dw", "bn2"}, {"se", "se"}, {"conv_pwl", "bn3"}}
	} else {
		seq = [][2]string{{"conv_dw", "bn1"}, {"se", "se"}, {"conv_pw", "bn2"}}
	}
	if part >= len(seq) {
		return "", false
	}
	var mod string
	switch {
	case seq[part][0] == "se" && sub == "fc1":
		mod = "se.conv_reduce"
	case seq[part][0] == "se" && sub == "fc2":
		mod = "se.conv_expand"
	case seq[part][0] != "se" && sub == "0":
		mod = seq[part][0]
	case seq[part][0] != "se" && sub == "1":
		mod = seq[part][1]
	default:
		return "", false
	}
	return fmt.Sprintf("blocks.%d.%d.%s.%s", stage-1, idx, mod, leaf), true
}

// SpecFromFile returns the arch.Network stored in the metadata of a
// checkpoint written by Save.
func SpecFromFile(path string) (arch.Network, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return arch.Network{}, fmt.Errorf("effnet: %w", err)
	}
	return specFrom(path, f)
}

var errNoSpec = errors.New("no effnet spec in the metadata (not saved by effnet?)")

func specFrom(path string, f *safetensors.File) (arch.Network, error) {
	js, ok := f.Metadata[specKey]
	if !ok {
		return arch.Network{}, fmt.Errorf("effnet: %s: %w", path, errNoSpec)
	}
	var spec arch.Network
	if err := json.Unmarshal([]byte(js), &spec); err != nil {
		return arch.Network{}, fmt.Errorf("effnet: %s: bad spec metadata: %v", path, err)
	}
	if err := spec.Validate(); err != nil {
		return arch.Network{}, fmt.Errorf("effnet: %s: %w", path, err)
	}
	return spec, nil
}

// Load builds a model from a weights file. For a checkpoint written by
// Save, the spec comes from the file and preset may be empty. For a timm or
// torchvision state dict, preset names the architecture ("efficientnet_b0",
// "tf_efficientnet_b3", ...; see arch.Preset) and the number of classes is
// read from the classifier's shape.
func Load[T layers.Float](path, preset string) (*Model[T], error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("effnet: %w", err)
	}
	spec, err := specFrom(path, f)
	if errors.Is(err, errNoSpec) && preset != "" {
		if spec, err = arch.Preset(preset); err != nil {
			return nil, err
		}
		classes, cerr := classifierClasses(f)
		if cerr != nil {
			return nil, fmt.Errorf("effnet: %s: %w", path, cerr)
		}
		spec.Classes = classes
	} else if err != nil {
		return nil, err
	}
	m, err := New[T](spec, 0)
	if err != nil {
		return nil, err
	}
	if err := m.load(path, f); err != nil {
		return nil, err
	}
	return m, nil
}

func classifierClasses(f *safetensors.File) (int, error) {
	for _, n := range []string{"classifier.weight", "classifier.1.weight"} {
		if t := f.Tensor(n); t != nil {
			if len(t.Shape) != 2 || t.Shape[0] < 1 {
				return 0, fmt.Errorf("%s has shape %v, want [classes, features]", n, t.Shape)
			}
			return t.Shape[0], nil
		}
	}
	return 0, errors.New("no classifier.weight or classifier.1.weight: not an EfficientNet state dict")
}
