// Package layers implements the building blocks of EfficientNet with
// forward and backward passes: convolution (dense, pointwise and depthwise,
// with PyTorch symmetric or TensorFlow SAME padding), batch normalisation,
// activations, squeeze-and-excitation, pooling, linear, dropout, stochastic
// depth and the cross-entropy loss.
//
// Every layer is generic over float32, the fast production path, and
// float64, which the tests use for finite-difference gradient checks and
// comparisons with PyTorch reference tensors.
//
// Activations are NHWC ([batch, height, width, channels]); convolution
// weights are OHWI ([out, kh, kw, in/groups]); linear weights are [out, in].
// A layer owns the tensors its Forward and Backward return and reuses them
// on the next call, so a training loop allocates nothing once warm.
//
// Memory traffic, not arithmetic, bounds most of an EfficientNet on a CPU,
// so the layers offer fused forms that skip whole passes over activations:
// BatchNorm2D.Act applies the activation inside the normalisation (timm's
// BatchNormAct2d), storing one tensor where two were; in inference,
// Conv2D.ForwardEval applies an Epilogue (a BatchNorm folded by
// BatchNorm2D.EvalAffine, the activation, a residual add, squeeze-excite's
// pooling) to the convolution's output while it is in cache, and
// SqueezeExcite.ScaleEval gates that output in place.
package layers
