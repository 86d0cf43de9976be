package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// InitKaimingNormalFanOut fills a convolution or linear weight with
// N(0, 2/fan_out), torchvision's EfficientNet initialisation for every
// Conv2d (nn.init.kaiming_normal_(mode="fan_out") with its default ReLU
// gain √2).
//
// fan_out follows PyTorch: out·kh·kw for a conv weight, which for OHWI
// [out, kh, kw, in/groups] and for a linear [out, in] alike is the number of
// elements divided by the last dimension. PyTorch does not divide by the
// groups, so a depthwise 3x3 with C channels gets fan_out = 9C.
func InitKaimingNormalFanOut[T Float](p *Param[T], rng *rand.Rand) error {
	v := p.Value
	if v.Dims() < 2 || v.Len() == 0 {
		return fmt.Errorf("layers: InitKaimingNormalFanOut: %s has shape %v, want a conv or linear weight", p.Name, v.Shape)
	}
	fanOut := v.Len() / v.Shape[v.Dims()-1]
	std := math.Sqrt(2 / float64(fanOut))
	for i := range v.Data {
		v.Data[i] = T(std * rng.NormFloat64())
	}
	return nil
}

// InitUniform fills p with values drawn uniformly from [lo, hi).
// torchvision initialises EfficientNet's classifier weight with
// lo, hi = ∓1/√out_features.
func InitUniform[T Float](p *Param[T], lo, hi float64, rng *rand.Rand) {
	for i := range p.Value.Data {
		p.Value.Data[i] = T(lo + (hi-lo)*rng.Float64())
	}
}
