package scaling

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Divisor is the channel granularity of every reference EfficientNet: scaled
// channel counts are multiples of 8, which suits SIMD widths and matches the
// released weights.
const Divisor = 8

// BaseResolution is the input size of the baseline EfficientNet-B0.
const BaseResolution = 224

// Coefficients are the per-dimension bases of compound scaling: depth grows as
// Alpha^φ, width as Beta^φ and resolution as Gamma^φ.
type Coefficients struct {
	Alpha, Beta, Gamma float64
}

// Paper returns the coefficients the EfficientNet paper found by grid search
// on B0: α=1.2, β=1.1, γ=1.15 (α·β²·γ² ≈ 1.92).
func Paper() Coefficients {
	return Coefficients{Alpha: 1.2, Beta: 1.1, Gamma: 1.15}
}

// Validate reports coefficients that cannot scale a network: each must be a
// finite positive number.
func (c Coefficients) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    float64
	}{{"alpha", c.Alpha}, {"beta", c.Beta}, {"gamma", c.Gamma}} {
		if !(f.v > 0) || math.IsInf(f.v, 0) {
			errs = append(errs, fmt.Errorf("scaling: %s = %v, want a finite number > 0", f.name, f.v))
		}
	}
	return errors.Join(errs...)
}

// Product returns α·β²·γ², the FLOPs factor of one unit of φ.
func (c Coefficients) Product() float64 {
	return c.Alpha * c.Beta * c.Beta * c.Gamma * c.Gamma
}

// FLOPsFactor returns (α·β²·γ²)^φ, the factor by which compound scaling with φ
// multiplies the FLOPs of the baseline (exactly for an idealised network;
// channel and repeat rounding make real networks deviate by a few percent).
func (c Coefficients) FLOPsFactor(phi float64) float64 {
	return math.Pow(c.Product(), phi)
}

// Multipliers are the per-dimension factors for one φ.
type Multipliers struct {
	Depth      float64 // α^φ, applied to each stage's repeats
	Width      float64 // β^φ, applied to every channel count
	Resolution float64 // γ^φ, applied to the input side
}

// Multipliers returns d=α^φ, w=β^φ, r=γ^φ.
func (c Coefficients) Multipliers(phi float64) Multipliers {
	return Multipliers{
		Depth:      math.Pow(c.Alpha, phi),
		Width:      math.Pow(c.Beta, phi),
		Resolution: math.Pow(c.Gamma, phi),
	}
}

// Preset is one released EfficientNet configuration.
type Preset struct {
	Name       string  // "b0".."b7"
	Width      float64 // channel multiplier
	Depth      float64 // repeat multiplier
	Resolution int     // training and evaluation input side
	Dropout    float64 // dropout before the classifier
}

// Presets returns the released B0..B7 coefficients, in order. The values are
// the ones of the official TensorFlow code (and of timm and torchvision), not
// α^φ; see the package documentation. The slice is freshly allocated.
func Presets() []Preset {
	return []Preset{
		{"b0", 1.0, 1.0, 224, 0.2},
		{"b1", 1.0, 1.1, 240, 0.2},
		{"b2", 1.1, 1.2, 260, 0.3},
		{"b3", 1.2, 1.4, 300, 0.3},
		{"b4", 1.4, 1.8, 380, 0.4},
		{"b5", 1.6, 2.2, 456, 0.4},
		{"b6", 1.8, 2.6, 528, 0.5},
		{"b7", 2.0, 3.1, 600, 0.5},
	}
}

// LookupPreset returns the preset called name ("b0".."b7").
func LookupPreset(name string) (Preset, error) {
	ps := Presets()
	names := make([]string, len(ps))
	for i, p := range ps {
		if p.Name == name {
			return p, nil
		}
		names[i] = p.Name
	}
	return Preset{}, fmt.Errorf("scaling: unknown preset %q (valid: %s)", name, strings.Join(names, ", "))
}

// RoundChannels scales c by width and rounds the result the way the reference
// implementations do (timm's make_divisible, torchvision's _make_divisible):
// to the nearest multiple of divisor, at least divisor, plus one divisor when
// rounding down lost more than 10 % of c·width. It expects c ≥ 0 and
// width > 0 (arch validates both before calling it).
//
// It panics if divisor < 1, a programmer error.
func RoundChannels(c int, width float64, divisor int) int {
	if divisor < 1 {
		panic(fmt.Sprintf("scaling: divisor %d < 1", divisor))
	}
	v := float64(c) * width
	d := float64(divisor)
	// int(v + d/2) // d * d, with Python's truncation toward zero for v ≥ 0.
	n := int(v+d/2) / divisor * divisor
	if n < divisor {
		n = divisor
	}
	if float64(n) < 0.9*v {
		n += divisor
	}
	return n
}

// RoundRepeats returns ceil(depth·repeats), the scaled number of blocks in a
// stage.
func RoundRepeats(repeats int, depth float64) int {
	return int(math.Ceil(depth * float64(repeats)))
}

// ScaleResolution returns base·factor rounded to the nearest integer (halves
// away from zero), at least 1. See the package documentation for why the
// nearest integer rather than a multiple of 8 or 32.
func ScaleResolution(base int, factor float64) int {
	r := int(math.Round(float64(base) * factor))
	if r < 1 {
		r = 1
	}
	return r
}
