// Package effnet is a pure-Go library for EfficientNet and the compound
// scaling method behind it (Tan & Le, 2019): the B0..B7 models and custom
// scalings of them, with training, inference and measurement on the CPU.
//
// This package holds the model itself: a network assembled from an
// arch.Network spec, with forward and backward passes, train and eval
// modes, named parameters and buffers, and weights in and out as
// safetensors (its own checkpoints, and timm or torchvision state dicts).
//
// # Packages
//
// The library is a ladder; each rung imports only those below it.
//
//   - scaling: compound scaling arithmetic (d = α^φ, w = β^φ, r = γ^φ), the
//     B0..B7 presets and the (α, β, γ) grid search.
//   - arch: typed block specs; the B0 baseline as data and Scale, which
//     turns multipliers into a concrete network.
//   - flops: exact parameter and multiply-accumulate counts of any spec.
//   - layers: convolution, BatchNorm, activations, squeeze-excite, pooling,
//     linear, dropout, drop-path and the loss, forward and backward.
//   - mbconv: the MBConv block.
//   - effnet (this package): the model.
//   - train: optimisers, schedules, EMA and the training loop.
//   - data: datasets, image decoding, augmentation and batching; it stands
//     apart from the rest.
//
// scaling, arch and flops are pure arithmetic on specs and need no tensors.
//
// # Quick start
//
//	spec, err := arch.Preset("b0")        // EfficientNet-B0, 1000 classes
//	m, err := effnet.New[float32](spec, 1) // random weights, seed 1
//	err = m.LoadWeights("model.safetensors") // e.g. timm/efficientnet_b0
//	logits, err := m.Forward(x, layers.Eval) // x is NHWC [N, 224, 224, 3]
//
// Activations are NHWC, float32 for speed or float64 for exact checks.
//
// # Speed and memory
//
// Most of an EfficientNet is bound by memory traffic on a CPU rather than
// by arithmetic, so the model avoids passes over activations: in Eval mode
// every BatchNorm, activation, residual add and squeeze-excite pooling
// runs inside the convolution before it, and the blocks share four
// activation buffers; in training BatchNorm applies the activation itself,
// storing one tensor where two were, and the blocks share their gradient
// buffers. A training step and an inference allocate nothing once warm.
// go run ./examples/bench -torch measures all this against PyTorch.
package effnet
