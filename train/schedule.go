package train

import "math"

// Schedule gives the learning rate for each optimiser step. Step 0 is the
// first update. Schedules are pure values with no state, so resuming from a
// checkpoint needs only the step number. An invalid schedule (a zero decay
// interval, say) returns NaN, which Optimizer.Step rejects.
type Schedule interface {
	LR(step int) float64
}

// Constant is a fixed learning rate.
type Constant float64

// LR returns c for every step.
func (c Constant) LR(step int) float64 { return float64(c) }

// WarmupCosine rises linearly from WarmupStart at step 0 to Base at step
// WarmupSteps, then follows half a cosine from Base down to Floor at
// TotalSteps, and stays at Floor after that:
//
//	lr(s) = WarmupStart + (Base−WarmupStart)·s/W                 s < W
//	lr(s) = Floor + (Base−Floor)·(1 + cos(π·(s−W)/(T−W)))/2      W ≤ s < T
//	lr(s) = Floor                                                s ≥ T
//
// The cosine starts where the warmup ends (timm's warmup_prefix, or
// torchvision's LinearLR followed by CosineAnnealingLR), so the rate is
// continuous and the whole cosine is used.
type WarmupCosine struct {
	Base, Floor, WarmupStart float64
	WarmupSteps, TotalSteps  int
}

// LR returns the learning rate for step.
func (c WarmupCosine) LR(step int) float64 {
	step = max(step, 0)
	switch {
	case step < c.WarmupSteps:
		return c.WarmupStart + (c.Base-c.WarmupStart)*float64(step)/float64(c.WarmupSteps)
	case step >= c.TotalSteps:
		return c.Floor
	}
	t := float64(step-c.WarmupSteps) / float64(c.TotalSteps-c.WarmupSteps)
	return c.Floor + (c.Base-c.Floor)*0.5*(1+math.Cos(math.Pi*t))
}

// ExponentialDecay multiplies Base by Rate once every DecaySteps steps
// (Staircase) or continuously (Rate^(s/DecaySteps)), after an optional
// linear warmup from WarmupStart to Base over WarmupSteps. As in the
// TensorFlow EfficientNet code, the decay counts from step 0, not from the
// end of the warmup, so when the warmup ends the rate drops to where the
// decay has got to by then.
//
// DecaySteps is fractional because the paper's interval, 2.4 epochs, is not
// a whole number of steps: 2.4·stepsPerEpoch.
type ExponentialDecay struct {
	Base, Rate, DecaySteps float64
	Staircase              bool
	WarmupStart            float64
	WarmupSteps            int
}

// PaperDecay is the EfficientNet paper's schedule as its TensorFlow code
// runs it: base decays by 0.97 every 2.4 epochs (staircase), after a
// linear warmup from 0 over 5 epochs. The paper's base is 0.016 per 256
// images of batch (0.256 at batch 4096).
func PaperDecay(base float64, stepsPerEpoch int) ExponentialDecay {
	return ExponentialDecay{
		Base:        base,
		Rate:        0.97,
		DecaySteps:  2.4 * float64(stepsPerEpoch),
		Staircase:   true,
		WarmupSteps: 5 * stepsPerEpoch,
	}
}

// LR returns the learning rate for step.
func (d ExponentialDecay) LR(step int) float64 {
	step = max(step, 0)
	if step < d.WarmupSteps {
		return d.WarmupStart + (d.Base-d.WarmupStart)*float64(step)/float64(d.WarmupSteps)
	}
	if !(d.DecaySteps > 0) {
		return math.NaN()
	}
	e := float64(step) / d.DecaySteps
	if d.Staircase {
		e = math.Floor(e)
	}
	return d.Base * math.Pow(d.Rate, e)
}
