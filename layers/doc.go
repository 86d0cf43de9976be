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
package layers
