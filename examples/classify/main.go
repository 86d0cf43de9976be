// Command classify runs an EfficientNet on images and prints the five most
// likely classes of each, with their probabilities.
//
//	go run ./examples/classify -model efficientnet_b0 -weights model.safetensors photo.jpg ...
//	go run ./examples/classify -weights my_checkpoint.safetensors photo.jpg   # saved by effnet: no -model
//
// # Weights
//
// -weights takes a safetensors state dict: timm's (the model.safetensors of
// timm/efficientnet_b0.ra_in1k or timm/tf_efficientnet_b0.in1k on the
// Hugging Face hub, unchanged), torchvision's, or a checkpoint written by
// effnet's Model.Save. The tensor names tell timm from torchvision. -model
// names the architecture: efficientnet_b0..b7 (timm, PyTorch trained),
// tf_efficientnet_b0..b7 (TensorFlow ports: SAME padding, BN eps 1e-3) or
// torchvision_efficientnet_b0..b7; with a torchvision file, efficientnet_bN
// is read as torchvision_efficientnet_bN, whose b5..b7 differ in BN eps. An
// effnet checkpoint carries its spec, so -model is not needed. The number of
// classes comes from the classifier's shape. -width and -depth scale B0 by
// those multipliers instead of a released preset (keeping the padding and BN
// settings of the -model family), for weights of custom scalings.
//
// Classes are named with the 1000 ImageNet class names for 1000-class
// weights, from -classes (one name per line, in index order) if given, and
// by index otherwise.
//
// # Preprocessing
//
// Images (JPEG or PNG, recognised by content) are prepared as timm's eval
// transform does for the pretrained weights of the model: resize the
// shorter side to floor(size/crop_pct) with bicubic filtering (antialiased,
// as Pillow does), cut the central size×size square, scale to 0..1 and
// normalise with the ImageNet mean (0.485, 0.456, 0.406) and std (0.229,
// 0.224, 0.225). size and crop_pct are those of timm's pretrained config
// (see timmEval in preprocess.go):
//
//	efficientnet_b0     224  0.875    tf_efficientnet_b0  224  0.875
//	efficientnet_b1     224  0.875    tf_efficientnet_b1  240  0.882
//	efficientnet_b2     256  0.875    tf_efficientnet_b2  260  0.890
//	efficientnet_b3     288  0.875    tf_efficientnet_b3  300  0.904
//	efficientnet_b4     320  0.875    tf_efficientnet_b4  380  0.922
//	efficientnet_b5     448  squash   tf_efficientnet_b5  456  0.934
//	efficientnet_b6     528  0.942    tf_efficientnet_b6  528  0.942
//	efficientnet_b7     600  0.949    tf_efficientnet_b7  600  0.949
//
// efficientnet_b5 (timm's sw_in12k_ft_in1k weights) squashes the whole image
// to 448×448. torchvision weights get torchvision's IMAGENET1K_V1 transform
// (b0: resize 256, crop 224). Checkpoints and custom scalings use crop_pct
// 0.875 at the spec's resolution. -resolution and -crop-pct override the
// table; -norm inception switches to mean = std = 0.5 (timm's .ap_in1k and
// .ra4_* weights). The transform used is printed on stderr.
//
// # Parity checks
//
// -tensor in.safetensors replaces the images by the tensor named "input"
// (NCHW float32, already normalised), and -out out.safetensors writes the
// logits as the tensor "logits" [N, classes], as PyTorch's model(input)
// returns them, so the two can be compared number for number.
//
// Images are run in batches of -batch through the model in eval mode, in
// float32. An image that cannot be read is reported and skipped; the exit
// status is then 1. Usage errors exit with 2.
package main

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/effnet-go/effnet"
	"github.com/effnet-go/effnet/arch"
	"github.com/effnet-go/effnet/data"
	"github.com/effnet-go/effnet/internal/safetensors"
	"github.com/effnet-go/effnet/internal/tensor"
	"github.com/effnet-go/effnet/layers"
)

//go:embed imagenet_classes.txt
var imagenetClasses string

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	model, weights, classes string
	width, depth            float64
	resolution              int
	cropPct                 float64
	norm                    string
	top, batch              int
	tensor, out             string
	images                  []string
}

// errUsage marks errors that are the command line's fault (exit status 2).
var errUsage = errors.New("usage")

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.model, "model", "", "architecture: efficientnet_b0..b7, tf_efficientnet_b0..b7, torchvision_efficientnet_b0..b7 (not needed for effnet checkpoints)")
	fs.StringVar(&o.weights, "weights", "", "safetensors weights: timm, torchvision or effnet checkpoint (required)")
	fs.StringVar(&o.classes, "classes", "", "file of class names, one per line in index order")
	fs.Float64Var(&o.width, "width", 0, "custom scaling: width multiplier of B0 (with -depth; -model gives padding and BN settings)")
	fs.Float64Var(&o.depth, "depth", 0, "custom scaling: depth multiplier of B0 (with -width)")
	fs.IntVar(&o.resolution, "resolution", 0, "input side in pixels (default: the model's eval size)")
	fs.Float64Var(&o.cropPct, "crop-pct", 0, "centre-crop fraction in (0, 1] (default: the model's)")
	fs.StringVar(&o.norm, "norm", "imagenet", "normalisation: imagenet or inception (mean = std = 0.5)")
	fs.IntVar(&o.top, "top", 5, "classes to print per image")
	fs.IntVar(&o.batch, "batch", 8, "images per forward pass")
	fs.StringVar(&o.tensor, "tensor", "", "safetensors file whose NCHW float32 tensor \"input\" replaces the images")
	fs.StringVar(&o.out, "out", "", "write the logits [N, classes] to this safetensors file as \"logits\"")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: classify [-model name] -weights file.safetensors [flags] image ...")
		fmt.Fprintln(stderr, "       classify [-model name] -weights file.safetensors -tensor in.safetensors [-out out.safetensors]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	o.images = fs.Args()
	bad := func(format string, a ...any) (options, error) {
		return o, fmt.Errorf("%w: "+format, append([]any{errUsage}, a...)...)
	}
	switch {
	case o.weights == "":
		return bad("-weights is required")
	case o.tensor == "" && len(o.images) == 0:
		return bad("no images (or -tensor) given")
	case o.tensor != "" && len(o.images) > 0:
		return bad("give either images or -tensor, not both")
	case (o.width == 0) != (o.depth == 0):
		return bad("-width and -depth go together")
	case o.width < 0 || o.depth < 0 || math.IsNaN(o.width) || math.IsNaN(o.depth):
		return bad("-width and -depth must be positive")
	case o.resolution < 0:
		return bad("-resolution %d must be positive", o.resolution)
	case o.cropPct != 0 && !(o.cropPct > 0 && o.cropPct <= 1):
		return bad("-crop-pct %v outside (0, 1]", o.cropPct)
	case o.norm != "imagenet" && o.norm != "inception":
		return bad("-norm %q: want imagenet or inception", o.norm)
	case o.top < 1:
		return bad("-top %d must be at least 1", o.top)
	case o.batch < 1:
		return bad("-batch %d must be at least 1", o.batch)
	}
	return o, nil
}

// run is the command: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "classify:", strings.TrimPrefix(err.Error(), "usage: "))
		}
		return 2
	}
	code, err := classify(o, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "classify:", err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return code
}

func classify(o options, stdout, stderr io.Writer) (int, error) {
	m, preset, err := loadModel(o)
	if err != nil {
		return 1, err
	}
	names, err := classNames(o.classes, m.Spec.Classes)
	if err != nil {
		return 1, err
	}
	if o.tensor != "" {
		x, err := readInput(o.tensor)
		if err != nil {
			return 1, err
		}
		logits, err := m.Forward(x, layers.Eval)
		if err != nil {
			return 1, fmt.Errorf("%s: %w", o.tensor, err)
		}
		labels := make([]string, x.Shape[0])
		for i := range labels {
			labels[i] = fmt.Sprintf("%s[%d]", o.tensor, i)
		}
		printTop(stdout, labels, logits, names, o.top)
		return 0, writeLogits(o.out, logits.Data, logits.Shape)
	}

	cfg := evalFor(preset, m.Spec.Resolution)
	if o.resolution > 0 {
		cfg.Size = o.resolution
	}
	if o.cropPct > 0 {
		cfg.CropPct, cfg.Squash = o.cropPct, false
	}
	if o.norm == "inception" {
		cfg.Mean, cfg.Std = inceptionMean, inceptionStd
	}
	fmt.Fprintf(stderr, "classify: %s, %d classes; preprocessing: %v\n", m.Spec.Name, m.Spec.Classes, cfg)

	per := cfg.Size * cfg.Size * 3
	batch := tensor.New[float32](min(o.batch, len(o.images)), cfg.Size, cfg.Size, 3)
	var s data.Scratch
	var all []float32 // every image's logits, for -out
	failed := 0
	for start := 0; start < len(o.images); start += o.batch {
		var labels []string
		for _, path := range o.images[start:min(start+o.batch, len(o.images))] {
			if err := loadImage(batch.Data[len(labels)*per:(len(labels)+1)*per], path, cfg, &s); err != nil {
				fmt.Fprintln(stderr, "classify:", err)
				failed++
				continue
			}
			labels = append(labels, path)
		}
		if len(labels) == 0 {
			continue
		}
		x := &tensor.Tensor[float32]{Shape: []int{len(labels), cfg.Size, cfg.Size, 3}, Data: batch.Data[:len(labels)*per]}
		logits, err := m.Forward(x, layers.Eval)
		if err != nil {
			return 1, err
		}
		printTop(stdout, labels, logits, names, o.top)
		all = append(all, logits.Data...)
	}
	if failed > 0 {
		if o.out != "" {
			return 1, fmt.Errorf("%d of %d images could not be read; %s not written", failed, len(o.images), o.out)
		}
		return 1, fmt.Errorf("%d of %d images could not be read", failed, len(o.images))
	}
	return 0, writeLogits(o.out, all, []int{len(o.images), m.Spec.Classes})
}

// loadModel builds the model the weights describe and returns it with the
// arch preset name that picks its preprocessing ("" for custom specs).
func loadModel(o options) (*effnet.Model[float32], string, error) {
	f, err := safetensors.ReadFile(o.weights)
	if err != nil {
		return nil, "", err
	}
	// "effnet.spec" is the metadata key Model.Save writes the spec under.
	if _, ok := f.Metadata["effnet.spec"]; ok {
		// An effnet checkpoint: its own spec wins over any flags.
		if o.model != "" || o.width != 0 {
			return nil, "", fmt.Errorf("%w: %s is an effnet checkpoint that carries its architecture; drop -model/-width/-depth", errUsage, o.weights)
		}
		m, err := effnet.Load[float32](o.weights, "")
		if err != nil {
			return nil, "", err
		}
		return m, m.Spec.Name, nil
	}
	if o.model == "" {
		return nil, "", fmt.Errorf("%w: %s holds no effnet spec; name its architecture with -model (one of %s)", errUsage, o.weights, strings.Join(modelNames(), ", "))
	}
	preset := o.model
	if f.Tensor("features.0.0.weight") != nil {
		// torchvision's b5..b7 differ from timm's in BN eps and momentum.
		if short, ok := strings.CutPrefix(preset, "efficientnet_"); ok {
			preset = "torchvision_efficientnet_" + short
		} else if !strings.Contains(preset, "_") {
			preset = "torchvision_efficientnet_" + preset
		}
	}
	spec, err := arch.Preset(preset)
	if err != nil {
		return nil, "", fmt.Errorf("%w: -model %q: want one of %s", errUsage, o.model, strings.Join(modelNames(), ", "))
	}
	if o.width == 0 {
		m, err := effnet.Load[float32](o.weights, preset)
		if err != nil {
			return nil, "", err
		}
		return m, spec.Name, nil
	}
	// Custom scaling: B0 scaled by -width/-depth with the family's padding
	// and BatchNorm settings, at the preset's resolution.
	base := arch.Baseline()
	base.Name, base.Padding, base.BNEps, base.BNMomentum = "custom", spec.Padding, spec.BNEps, spec.BNMomentum
	if spec, err = arch.Scale(base, o.width, o.depth); err != nil {
		return nil, "", fmt.Errorf("%w: %v", errUsage, err)
	}
	if spec.Classes, err = fileClasses(f, o.weights); err != nil {
		return nil, "", err
	}
	m, err := effnet.New[float32](spec, 0)
	if err != nil {
		return nil, "", err
	}
	if err := m.LoadWeights(o.weights); err != nil {
		return nil, "", err
	}
	return m, "", nil
}

// modelNames are the -model values for released presets.
func modelNames() []string {
	return []string{"efficientnet_b0..b7", "tf_efficientnet_b0..b7", "torchvision_efficientnet_b0..b7"}
}

func fileClasses(f *safetensors.File, path string) (int, error) {
	for _, n := range []string{"classifier.weight", "classifier.1.weight"} {
		if t := f.Tensor(n); t != nil && len(t.Shape) == 2 {
			return t.Shape[0], nil
		}
	}
	return 0, fmt.Errorf("%s: no classifier.weight [classes, features]: not an EfficientNet state dict", path)
}

// classNames returns a name per class: from file, else ImageNet's for 1000
// classes, else the indices.
func classNames(file string, classes int) ([]string, error) {
	var text string
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		text = string(b)
	case classes == 1000:
		text = imagenetClasses
	default:
		names := make([]string, classes)
		for i := range names {
			names[i] = fmt.Sprintf("class %d", i)
		}
		return names, nil
	}
	names := strings.Split(strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n"), "\n")
	if len(names) != classes {
		return nil, fmt.Errorf("%s has %d class names, the weights have %d classes", file, len(names), classes)
	}
	return names, nil
}

func loadImage(dst []float32, path string, cfg evalConfig, s *data.Scratch) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	img, err := data.Decode(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := cfg.apply(dst, img, s); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// readInput reads the NCHW tensor "input" and returns it as NHWC.
func readInput(path string) (*tensor.Tensor[float32], error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d, shape, err := f.Float32("input")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(shape) != 4 || shape[1] != 3 || shape[0] < 1 || shape[2] < 1 || shape[3] < 1 {
		return nil, fmt.Errorf("%s: input has shape %v, want NCHW [N 3 H W]", path, shape)
	}
	x, err := tensor.FromData(d, shape...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tensor.NCHWToNHWC(x), nil
}

func writeLogits(path string, logits []float32, shape []int) error {
	if path == "" {
		return nil
	}
	return safetensors.WriteFile(path, []safetensors.Tensor{safetensors.FromFloat32("logits", logits, shape...)}, nil)
}

// printTop prints, for each row of logits, its label and the top classes by
// softmax probability.
func printTop(w io.Writer, labels []string, logits *tensor.Tensor[float32], names []string, top int) {
	classes := logits.Shape[1]
	top = min(top, classes)
	for i, label := range labels {
		p := softmax(logits.Data[i*classes : (i+1)*classes])
		idx := make([]int, classes)
		for j := range idx {
			idx[j] = j
		}
		sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
		fmt.Fprintf(w, "%s:\n", label)
		for _, j := range idx[:top] {
			fmt.Fprintf(w, "  %7.3f%%  %4d  %s\n", 100*p[j], j, names[j])
		}
	}
}

// softmax in float64, stabilised by the maximum logit.
func softmax(z []float32) []float64 {
	mx := float64(slices.Max(z))
	p := make([]float64, len(z))
	sum := 0.0
	for i, v := range z {
		p[i] = math.Exp(float64(v) - mx)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}
