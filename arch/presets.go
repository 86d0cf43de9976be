package arch

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/effnet-go/effnet/scaling"
)

// Baseline returns EfficientNet-B0 as in Table 1 of the paper, with the
// training settings of the reference implementations: 224×224 RGB input,
// 1000 classes, dropout 0.2, drop-path rate 0.2, BN eps 1e-5 and momentum
// 0.1, symmetric padding, SiLU, SE ratio 0.25 of each block's input.
func Baseline() Network {
	return Network{
		Name:       "efficientnet_b0",
		InChannels: 3,
		Stem:       32,
		Stages: []Stage{
			{DepthwiseSeparable, 1, 3, 1, 1, 16, 0.25},
			{MBConv, 2, 3, 2, 6, 24, 0.25},
			{MBConv, 2, 5, 2, 6, 40, 0.25},
			{MBConv, 3, 3, 2, 6, 80, 0.25},
			{MBConv, 3, 5, 1, 6, 112, 0.25},
			{MBConv, 4, 5, 2, 6, 192, 0.25},
			{MBConv, 1, 3, 1, 6, 320, 0.25},
		},
		Head:         1280,
		Classes:      1000,
		Dropout:      0.2,
		DropPathRate: 0.2,
		Resolution:   scaling.BaseResolution,
		BNEps:        1e-5,
		BNMomentum:   0.1,
		Padding:      Symmetric,
		Activation:   SiLU,
	}
}

// Scale returns base with every channel count (stem, stage outputs, head)
// multiplied by width and every stage's repeats by depth, rounded as
// [scaling.RoundChannels] (divisor 8) and [scaling.RoundRepeats] do. Input
// channels, classes, resolution and the other settings are kept. base must
// be valid; width and depth must be finite and positive.
func Scale(base Network, width, depth float64) (Network, error) {
	if err := base.Validate(); err != nil {
		return Network{}, err
	}
	var errs []error
	for _, f := range []struct {
		name string
		v    float64
	}{{"width", width}, {"depth", depth}} {
		if !(f.v > 0) || math.IsInf(f.v, 0) {
			errs = append(errs, fmt.Errorf("arch: %s multiplier = %v, want a finite number > 0", f.name, f.v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Network{}, err
	}
	// Check the products before converting them to int: Go leaves the
	// conversion of an out-of-range float undefined.
	widest := max(base.Stem, base.Head)
	deepest := 0
	for _, s := range base.Stages {
		widest = max(widest, s.Out)
		deepest = max(deepest, s.Repeats)
	}
	if float64(widest)*width > maxChannels {
		return Network{}, fmt.Errorf("arch: width multiplier %v makes %d channels %.4g wide, more than %d", width, widest, float64(widest)*width, maxChannels)
	}
	if float64(deepest)*depth > maxRepeats {
		return Network{}, fmt.Errorf("arch: depth multiplier %v makes a stage of %d blocks %.4g deep, more than %d", depth, deepest, float64(deepest)*depth, maxRepeats)
	}
	n := base.Clone()
	n.Stem = scaling.RoundChannels(base.Stem, width, scaling.Divisor)
	n.Head = scaling.RoundChannels(base.Head, width, scaling.Divisor)
	for i := range n.Stages {
		n.Stages[i].Out = scaling.RoundChannels(n.Stages[i].Out, width, scaling.Divisor)
		n.Stages[i].Repeats = scaling.RoundRepeats(n.Stages[i].Repeats, depth)
	}
	if err := n.Validate(); err != nil {
		return Network{}, err
	}
	return n, nil
}

// Custom returns the baseline scaled by width and depth at the given input
// resolution, named "custom". Dropout and drop-path rate stay at B0's 0.2.
func Custom(width, depth float64, resolution int) (Network, error) {
	b := Baseline()
	b.Name = "custom"
	b.Resolution = resolution
	return Scale(b, width, depth)
}

// Compound returns the baseline compound-scaled by φ with coefficients c:
// width β^φ, depth α^φ, resolution 224·γ^φ rounded to the nearest integer
// ([scaling.ScaleResolution]). It is named "custom"; see [Custom].
func Compound(c scaling.Coefficients, phi float64) (Network, error) {
	if err := c.Validate(); err != nil {
		return Network{}, err
	}
	if math.IsNaN(phi) || math.IsInf(phi, 0) {
		return Network{}, fmt.Errorf("arch: φ = %v, want a finite number", phi)
	}
	m := c.Multipliers(phi)
	res := m.Resolution * scaling.BaseResolution
	if !(res <= maxResolution) {
		return Network{}, fmt.Errorf("arch: φ = %v gives resolution %.4g, more than %d", phi, res, maxResolution)
	}
	return Custom(m.Width, m.Depth, scaling.ScaleResolution(scaling.BaseResolution, m.Resolution))
}

// family is a name prefix accepted by Preset, with the BN and padding
// settings of the implementation it names; setup gets the index of the
// model in scaling.Presets (0 for b0).
type family struct {
	prefix string
	setup  func(n *Network, model int)
}

func families() []family {
	return []family{
		{"", func(*Network, int) {}},
		{"efficientnet_", func(*Network, int) {}},
		{"tf_efficientnet_", func(n *Network, _ int) {
			// timm's tf_* constructors set eps and padding only; the
			// momentum stays PyTorch's 0.1.
			n.Padding, n.BNEps = Same, 1e-3
		}},
		{"torchvision_efficientnet_", func(n *Network, model int) {
			if model >= 5 {
				n.BNEps, n.BNMomentum = 1e-3, 0.01
			}
		}},
	}
}

// PresetNames returns every name [Preset] accepts.
func PresetNames() []string {
	var names []string
	for _, f := range families() {
		for _, p := range scaling.Presets() {
			names = append(names, f.prefix+p.Name)
		}
	}
	return names
}

// Preset returns a released EfficientNet by name, with 1000 classes at its
// native resolution: "b0".."b7" or "efficientnet_b0".. (timm, PyTorch
// trained), "tf_efficientnet_b0".. (TensorFlow weights: SAME padding, BN eps
// 1e-3) or "torchvision_efficientnet_b0".. (eps 1e-3 and
// momentum 0.01 for b5..b7). See the package documentation.
func Preset(name string) (Network, error) {
	for _, f := range families() {
		short, ok := strings.CutPrefix(name, f.prefix)
		if !ok {
			continue
		}
		for i, p := range scaling.Presets() {
			if p.Name != short {
				continue
			}
			b := Baseline()
			b.Name = "efficientnet_" + p.Name
			if f.prefix != "" {
				b.Name = name
			}
			b.Resolution = p.Resolution
			b.Dropout = p.Dropout
			f.setup(&b, i)
			return Scale(b, p.Width, p.Depth)
		}
	}
	return Network{}, fmt.Errorf("arch: unknown network %q; valid: b0..b7, efficientnet_b0..b7, tf_efficientnet_b0..b7, torchvision_efficientnet_b0..b7", name)
}
