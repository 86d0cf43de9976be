// Package scaling implements EfficientNet's compound scaling: the rule that
// grows a baseline ConvNet in depth, width and input resolution together,
// with one coefficient φ, instead of tuning one dimension at a time.
//
// # Compound scaling
//
// The paper (Tan & Le, 2019, eq. 3) fixes three constants α, β, γ ≥ 1 found
// by a small grid search on the baseline, then scales with
//
//	depth d = α^φ, width w = β^φ, resolution r = γ^φ,
//
// under α·β²·γ² ≈ 2. The FLOPs of a ConvNet grow linearly with depth and
// quadratically with width and resolution, so the network costs about
// (α·β²·γ²)^φ ≈ 2^φ times the baseline. [Coefficients] holds α, β, γ;
// [Paper] returns the paper's α=1.2, β=1.1, γ=1.15. [Grid] and [Search] are
// the paper's step 1: enumerate admissible (α, β, γ) and score each through a
// caller-supplied function (a short training run, later).
//
// # The official presets are hand-set
//
// EfficientNet-B0..B7 as released do not follow α^φ: with φ=1 the formula
// gives d=1.2, w=1.1, r=258, while B1 uses d=1.1, w=1.0, r=240. [Presets]
// therefore holds the released (width, depth, resolution, dropout) literally;
// pretrained weights only load into exactly these shapes.
//
// # Rounding
//
// Rounding copies the reference implementations (TensorFlow's, timm's and
// torchvision's agree), because a single channel of difference changes the
// weight shapes:
//
//   - channels: [RoundChannels] rounds c·w to the nearest multiple of the
//     divisor (8), never below the divisor, and adds one divisor when the
//     rounding lost more than 10 % of c·w;
//   - repeats: [RoundRepeats] is ceil(d·r), so depth never shrinks below the
//     baseline's at d ≥ 1;
//   - resolution for a custom φ: [ScaleResolution] rounds base·γ^φ to the
//     nearest integer. The released resolutions are hand-set (they are
//     multiples of 4, not of 8 or 32), so no rounding rule reproduces them;
//     every layer accepts any input size under both padding modes, and the
//     nearest integer keeps the measured FLOPs ratio closest to
//     (α·β²·γ²)^φ, which is what a scaling experiment wants to test.
package scaling
