package main

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/effnet-go/effnet/data"
)

// evalConfig is the evaluation preprocessing a set of released weights was
// measured with.
type evalConfig struct {
	Size int // output side: the model's input resolution
	// CropPct is the fraction of the resized shorter side that is kept:
	// the shorter side is resized to floor(Size/CropPct), then the central
	// Size×Size square is cut.
	CropPct float64
	// Squash resizes the whole image to Size×Size, ignoring its aspect
	// ratio (timm's crop_mode="squash"), instead of the centre crop.
	Squash bool
	Interp data.Interpolation
	Mean   []float32
	Std    []float32
	Source string // the weights the row describes, for -v and the docs
}

// Inception normalisation (mean = std = 0.5), used by some timm weights
// (tf_efficientnet_b*.ap_in1k, efficientnet_b*.ra4_*); see -norm.
var (
	inceptionMean = []float32{0.5, 0.5, 0.5}
	inceptionStd  = []float32{0.5, 0.5, 0.5}
)

// timmEval is timm's pretrained_cfg (input_size, crop_pct) of the
// ImageNet-1k weights for each model, from the default_cfgs table of
// timm/models/efficientnet.py (huggingface/pytorch-image-models, timm 1.0.x,
// the version that made the reference fixtures). Every entry uses bicubic
// interpolation and ImageNet mean/std. Where a model has several tags, the
// row names the tag it follows; the eval transform is input_size with
// crop_pct, not the optional test_input_size.
var timmEval = map[string]evalConfig{
	"efficientnet_b0": {Size: 224, CropPct: 0.875, Source: "timm efficientnet_b0.ra_in1k"},
	"efficientnet_b1": {Size: 224, CropPct: 0.875, Source: "timm efficientnet_b1.ft_in1k"},
	"efficientnet_b2": {Size: 256, CropPct: 0.875, Source: "timm efficientnet_b2.ra_in1k"},
	"efficientnet_b3": {Size: 288, CropPct: 0.875, Source: "timm efficientnet_b3.ra2_in1k"},
	"efficientnet_b4": {Size: 320, CropPct: 0.875, Source: "timm efficientnet_b4.ra2_in1k"},
	// The only ImageNet-1k efficientnet_b5 weights of timm.
	"efficientnet_b5": {Size: 448, CropPct: 1, Squash: true, Source: "timm efficientnet_b5.sw_in12k_ft_in1k"},
	// timm has no trained efficientnet_b6/b7; these are its .untrained cfgs.
	"efficientnet_b6": {Size: 528, CropPct: 0.942, Source: "timm efficientnet_b6.untrained"},
	"efficientnet_b7": {Size: 600, CropPct: 0.949, Source: "timm efficientnet_b7.untrained"},
	// The TensorFlow ports: .in1k, .aa_in1k, .ns_jft_in1k and .ra_in1k share
	// these (b6 and b7 have no .in1k tag).
	"tf_efficientnet_b0": {Size: 224, CropPct: 0.875, Source: "timm tf_efficientnet_b0.in1k"},
	"tf_efficientnet_b1": {Size: 240, CropPct: 0.882, Source: "timm tf_efficientnet_b1.in1k"},
	"tf_efficientnet_b2": {Size: 260, CropPct: 0.890, Source: "timm tf_efficientnet_b2.in1k"},
	"tf_efficientnet_b3": {Size: 300, CropPct: 0.904, Source: "timm tf_efficientnet_b3.in1k"},
	"tf_efficientnet_b4": {Size: 380, CropPct: 0.922, Source: "timm tf_efficientnet_b4.in1k"},
	"tf_efficientnet_b5": {Size: 456, CropPct: 0.934, Source: "timm tf_efficientnet_b5.in1k"},
	"tf_efficientnet_b6": {Size: 528, CropPct: 0.942, Source: "timm tf_efficientnet_b6.aa_in1k"},
	"tf_efficientnet_b7": {Size: 600, CropPct: 0.949, Source: "timm tf_efficientnet_b7.aa_in1k"},
}

// torchvisionEval is torchvision's IMAGENET1K_V1 transform
// (ImageClassification(crop_size, resize_size, BICUBIC)) per model, from
// torchvision/models/efficientnet.py. torchvision gives the resize size
// directly; see cropPctFor.
var torchvisionEval = map[string]struct{ crop, resize int }{
	"b0": {224, 256}, "b1": {240, 256}, "b2": {288, 288}, "b3": {300, 320},
	"b4": {380, 384}, "b5": {456, 456}, "b6": {528, 528}, "b7": {600, 600},
}

// cropPctFor returns the crop fraction that makes data.CenterCrop resize the
// shorter side to exactly resize: CenterCrop computes floor(size/cropPct),
// and size/(size/resize) can land a hair below resize in floating point
// (380/(380/384) = 383.99…), so aim half a pixel above.
func cropPctFor(size, resize int) float64 {
	return float64(size) / (float64(resize) + 0.5)
}

// evalFor returns the preprocessing for the given arch preset name (as
// arch.Preset spells it) at the given native resolution. Names without a
// table entry (custom specs, effnet checkpoints) get timm's defaults:
// bicubic, crop_pct 0.875, ImageNet mean/std, at the spec's resolution.
func evalFor(preset string, resolution int) evalConfig {
	cfg, ok := timmEval[preset]
	if short, tv := strings.CutPrefix(preset, "torchvision_efficientnet_"); tv {
		if t, ok2 := torchvisionEval[short]; ok2 {
			cfg, ok = evalConfig{Size: t.crop, CropPct: cropPctFor(t.crop, t.resize), Source: "torchvision " + preset + " IMAGENET1K_V1"}, true
		}
	}
	if !ok {
		cfg = evalConfig{Size: resolution, CropPct: data.DefaultCropPct, Source: "timm default eval transform"}
	}
	// EvalTransform supplies ImageNet's mean and std as slices of its own.
	def := data.EvalTransform(cfg.Size)
	cfg.Interp, cfg.Mean, cfg.Std = data.Bicubic, def.Mean, def.Std
	return cfg
}

func (c evalConfig) String() string {
	norm := "ImageNet mean/std"
	if c.Mean[0] == inceptionMean[0] {
		norm = "mean = std = 0.5"
	}
	if c.Squash {
		return fmt.Sprintf("squash to %dx%d, %v, %s (%s)", c.Size, c.Size, c.Interp, norm, c.Source)
	}
	return fmt.Sprintf("resize shorter side to %d, centre crop %dx%d, %v, %s (%s)",
		int(math.Floor(float64(c.Size)/c.CropPct)), c.Size, c.Size, c.Interp, norm, c.Source)
}

// apply writes img, preprocessed, into dst (one HWC image of an NHWC batch).
func (c evalConfig) apply(dst []float32, img image.Image, s *data.Scratch) error {
	if !c.Squash {
		t := &data.CenterCrop{Size: c.Size, CropPct: c.CropPct, Interp: c.Interp, Mean: c.Mean, Std: c.Std}
		return t.Apply(dst, img, nil, s)
	}
	// A random resized crop whose area fraction is 1 and whose aspect
	// ratio is the image's own has exactly one solution, the whole image,
	// so it resamples the full frame to Size×Size: timm's squash, done by
	// data's resampler without new image code. Nothing is random here.
	b := img.Bounds()
	if b.Empty() {
		return fmt.Errorf("empty image")
	}
	r := float64(b.Dx()) / float64(b.Dy())
	t := &data.RandomResizedCrop{Size: c.Size, Scale: [2]float64{1, 1}, Ratio: [2]float64{r, r}, Interp: c.Interp, Mean: c.Mean, Std: c.Std}
	return t.Apply(dst, img, rand.New(rand.NewPCG(0, 0)), s)
}
