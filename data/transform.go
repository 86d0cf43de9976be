package data

import (
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"slices"
)

// ImageNet channel statistics (RGB, on 0..1 pixel values), the normalisation
// every timm and torchvision ImageNet model expects. They are arrays so that
// no transform shares (and could alter) them; take a slice with Mean[:].
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// DefaultCropPct is timm's evaluation crop fraction: resize the shorter side
// to size/0.875, then cut the central size×size square.
const DefaultCropPct = 0.875

// Transform turns a decoded image into one sample of a batch: dst receives
// h*w*c float32 values in HWC order (one image of an NHWC batch).
//
// rng drives any randomness; a Transform holds no state of its own, so the
// same rng state gives the same output on any goroutine. s is working memory
// (nil allocates afresh).
type Transform interface {
	Shape() (h, w, c int)
	Apply(dst []float32, src image.Image, rng *rand.Rand, s *Scratch) error
}

// RandomResizedCrop is the training augmentation of timm and torchvision: a
// random crop covering a Scale fraction of the image area with aspect ratio
// (log-uniform) in Ratio, resized to Size×Size, mirrored left-right with
// probability FlipP, then normalised as (x/255 - Mean) / Std per channel.
//
// The number of channels is len(Mean): 3 for RGB, 1 for grayscale data such
// as Fashion-MNIST (colour sources are then converted to luma).
type RandomResizedCrop struct {
	Size   int
	Scale  [2]float64
	Ratio  [2]float64
	FlipP  float64
	Interp Interpolation
	Mean   []float32
	Std    []float32
}

// TrainTransform returns timm's default training transform at size: scale
// (0.08, 1), ratio (3/4, 4/3), flip probability 0.5, bilinear, ImageNet
// mean and std.
func TrainTransform(size int) *RandomResizedCrop {
	return &RandomResizedCrop{
		Size: size, Scale: [2]float64{0.08, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3},
		FlipP: 0.5, Interp: Bilinear, Mean: slices.Clone(ImageNetMean[:]), Std: slices.Clone(ImageNetStd[:]),
	}
}

// Shape returns the output size and channel count.
func (t *RandomResizedCrop) Shape() (h, w, c int) { return t.Size, t.Size, len(t.Mean) }

// Apply writes one augmented sample into dst.
func (t *RandomResizedCrop) Apply(dst []float32, src image.Image, rng *rand.Rand, s *Scratch) error {
	if err := t.check(len(dst)); err != nil {
		return err
	}
	b := src.Bounds()
	r := RandomResizedCropRect(b.Dx(), b.Dy(), t.Scale, t.Ratio, rng)
	flip := t.FlipP > 0 && rng.Float64() < t.FlipP
	box := Box{float64(r.Min.X), float64(r.Min.Y), float64(r.Max.X), float64(r.Max.Y)}
	return finish(dst, src, box, t.Size, t.Interp, t.Mean, t.Std, flip, s)
}

func (t *RandomResizedCrop) check(n int) error {
	switch {
	case !(t.Scale[0] > 0 && t.Scale[0] <= t.Scale[1]):
		return fmt.Errorf("data: RandomResizedCrop scale range %v must satisfy 0 < lo <= hi", t.Scale)
	case !(t.Ratio[0] > 0 && t.Ratio[0] <= t.Ratio[1]):
		return fmt.Errorf("data: RandomResizedCrop ratio range %v must satisfy 0 < lo <= hi", t.Ratio)
	case t.FlipP < 0 || t.FlipP > 1:
		return fmt.Errorf("data: RandomResizedCrop flip probability %v outside [0, 1]", t.FlipP)
	}
	return checkOut(t.Size, t.Mean, t.Std, n)
}

// RandomResizedCropRect chooses a crop of a w×h image as timm's
// RandomResizedCrop.get_params does: up to ten draws of an area fraction
// uniform in scale and an aspect ratio log-uniform in ratio; the first that
// fits is placed uniformly at random. If none fits, the fallback is the
// largest centred crop whose aspect ratio is clamped to the ratio range.
func RandomResizedCropRect(w, h int, scale, ratio [2]float64, rng *rand.Rand) image.Rectangle {
	area := float64(w * h)
	logLo, logHi := math.Log(ratio[0]), math.Log(ratio[1])
	for range 10 {
		target := area * (scale[0] + (scale[1]-scale[0])*rng.Float64())
		aspect := math.Exp(logLo + (logHi-logLo)*rng.Float64())
		cw := int(math.RoundToEven(math.Sqrt(target * aspect)))
		ch := int(math.RoundToEven(math.Sqrt(target / aspect)))
		if cw > 0 && cw <= w && ch > 0 && ch <= h {
			y := rng.IntN(h - ch + 1)
			x := rng.IntN(w - cw + 1)
			return image.Rect(x, y, x+cw, y+ch)
		}
	}
	cw, ch := w, h
	switch in := float64(w) / float64(h); {
	case in < ratio[0]:
		ch = int(math.RoundToEven(float64(w) / ratio[0]))
	case in > ratio[1]:
		cw = int(math.RoundToEven(float64(h) * ratio[1]))
	}
	x, y := (w-cw)/2, (h-ch)/2
	return image.Rect(x, y, x+cw, y+ch)
}

// CenterCrop is the evaluation transform of timm: resize the shorter side to
// floor(Size/CropPct) keeping the aspect ratio, cut the central Size×Size
// square, normalise. It is done in one resampling pass over the equivalent
// source box, which samples the same positions as resize-then-crop.
type CenterCrop struct {
	Size    int
	CropPct float64
	Interp  Interpolation
	Mean    []float32
	Std     []float32
}

// EvalTransform returns timm's default evaluation transform at size: crop
// fraction 0.875, bilinear, ImageNet mean and std.
func EvalTransform(size int) *CenterCrop {
	return &CenterCrop{Size: size, CropPct: DefaultCropPct, Interp: Bilinear,
		Mean: slices.Clone(ImageNetMean[:]), Std: slices.Clone(ImageNetStd[:])}
}

// Shape returns the output size and channel count.
func (t *CenterCrop) Shape() (h, w, c int) { return t.Size, t.Size, len(t.Mean) }

// Apply writes the centre crop of src into dst. rng is not used.
func (t *CenterCrop) Apply(dst []float32, src image.Image, _ *rand.Rand, s *Scratch) error {
	if !(t.CropPct > 0 && t.CropPct <= 1) {
		return fmt.Errorf("data: CenterCrop crop fraction %v outside (0, 1]", t.CropPct)
	}
	if err := checkOut(t.Size, t.Mean, t.Std, len(dst)); err != nil {
		return err
	}
	b := src.Bounds()
	return finish(dst, src, CenterCropBox(b.Dx(), b.Dy(), t.Size, t.CropPct), t.Size, t.Interp, t.Mean, t.Std, false, s)
}

// CenterCropBox returns the source box that timm's evaluation pipeline
// (Resize(floor(size/cropPct)) of the shorter side, then CenterCrop(size))
// turns into the output: the resized sizes are truncated and the crop offset
// rounded half to even, as torchvision does.
func CenterCropBox(w, h, size int, cropPct float64) Box {
	short := int(math.Floor(float64(size) / cropPct))
	nw, nh := short, short
	if w < h {
		nh = int(float64(short) * float64(h) / float64(w))
	} else if h < w {
		nw = int(float64(short) * float64(w) / float64(h))
	}
	left := math.RoundToEven(float64(nw-size) / 2)
	top := math.RoundToEven(float64(nh-size) / 2)
	sx, sy := float64(w)/float64(nw), float64(h)/float64(nh)
	return Box{left * sx, top * sy, (left + float64(size)) * sx, (top + float64(size)) * sy}
}

func checkOut(size int, mean, std []float32, n int) error {
	switch {
	case size <= 0:
		return fmt.Errorf("data: transform size %d must be positive", size)
	case len(mean) != 1 && len(mean) != 3:
		return fmt.Errorf("data: transform has %d mean values, want 3 (RGB) or 1 (gray)", len(mean))
	case len(std) != len(mean):
		return fmt.Errorf("data: transform has %d mean but %d std values", len(mean), len(std))
	case n != size*size*len(mean):
		return fmt.Errorf("data: transform output buffer holds %d values, want %d×%d×%d", n, size, size, len(mean))
	}
	for _, v := range std {
		if !(v > 0) {
			return errors.New("data: transform std values must be positive")
		}
	}
	return nil
}

// finish resamples box of src to size×size and writes (x/255-mean)/std into
// dst, mirrored if flip.
func finish(dst []float32, src image.Image, box Box, size int, in Interpolation, mean, std []float32, flip bool, s *Scratch) error {
	if src.Bounds().Empty() {
		return errors.New("data: empty image")
	}
	if s == nil {
		s = new(Scratch)
	}
	c := len(mean)
	px := resample(s, src, box, size, size, c, in)
	var scale, shift [3]float32
	for ch := range c {
		scale[ch] = 1 / (255 * std[ch])
		shift[ch] = mean[ch] / std[ch]
	}
	for y := range size {
		row := px[y*size*c : (y+1)*size*c]
		out := dst[y*size*c : (y+1)*size*c]
		for x := range size {
			ox := x
			if flip {
				ox = size - 1 - x
			}
			for ch := range c {
				out[ox*c+ch] = row[x*c+ch]*scale[ch] - shift[ch]
			}
		}
	}
	return nil
}
