// Package flops counts the parameters and multiply-accumulates (MACs) of an
// EfficientNet described by package arch, layer by layer, at any input
// resolution, without building the network.
//
// The counting convention is the one of the numbers people quote and compare:
// MACs are those of convolutions and linear layers only (a k×k conv producing
// C_out×H×W from C_in/groups channels costs C_out·H·W·k²·C_in/groups; biases
// are free), which is what torch's FlopCounterMode reports, halved, and what
// timm and torchvision publish. The SE module's two small 1×1 convs are
// included. Parameters include BN weight and bias, as PyTorch's
// parameters() does; BN running statistics are buffers, counted apart.
//
// Everything else a forward pass does — BN, activations, SE gating, residual
// adds, global pooling — is reported separately in [Other], as element
// counts: it is memory-bound work that the MAC total would misrepresent,
// yet it is a large share of EfficientNet's wall-clock time on CPU, which is
// the point of measuring it.
//
// Spatial sizes follow the network's padding mode through
// [arch.Padding.OutSize]: floor((in + 2p − k)/s) + 1 with p = (k−1)/2 for
// symmetric padding, ceil(in/s) for SAME. With the odd kernels arch allows,
// both give the same sizes, which is why timm's efficientnet_b* and
// tf_efficientnet_b* have identical counts.
//
// Layer names are timm's module names (conv_stem, blocks.1.0.conv_pw, ...),
// so a row can be matched to a weight of a timm checkpoint.
package flops
