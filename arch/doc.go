// Package arch describes EfficientNet networks as plain data: the one source
// of truth for a network's shape, from which models are built, weights are
// named and costs are counted (package flops).
//
// A [Network] reads like Table 1 of the EfficientNet paper: a 3×3 stride-2
// stem, seven [Stage] rows (block kind, repeats, kernel, stride, expand ratio,
// output channels, squeeze-and-excitation ratio), a 1×1 head convolution,
// global average pooling, dropout and a linear classifier. Input channels of
// a stage are not in the table: as in timm, they are the previous stage's
// output, tracked when [Network.Blocks] expands the repeats into a flat list
// of [Block] values, each with its own stride, channels, SE width, residual
// flag and drop-path (stochastic depth) rate.
//
// [Baseline] is EfficientNet-B0 as data. [Scale] applies width and depth
// multipliers with the reference rounding of package scaling; [Preset]
// builds the released B0..B7 by name; [Custom] and [Compound] build other
// members of the family.
//
// Every enumerated field ([Padding], [Activation], [BlockKind]) starts at 1,
// so a zero value is never a silent default: [Network.Validate] reports it
// as unset. The BN momentum follows PyTorch's convention (the weight of the
// new batch statistic, 0.1 by default), not TensorFlow's decay (0.99).
//
// # Names
//
// "b0".."b7" and "efficientnet_b0".. are timm's PyTorch-trained models:
// symmetric padding, BN eps 1e-5, momentum 0.1. "tf_efficientnet_b0".. are
// the ports of the TensorFlow weights: TensorFlow SAME padding, eps 1e-3 and, as in timm
// (whose tf_* constructors only set eps and padding), momentum 0.1.
// "torchvision_efficientnet_b0".. match torchvision, which
// pads symmetrically but uses eps 1e-3 and momentum 0.01 for b5..b7 (their
// weights come from TensorFlow). Shapes, parameters and MACs are identical
// across the three; only the numerics of a forward pass differ.
//
// Stage 1 (expand ratio 1) is a [DepthwiseSeparable] block in the presets, as
// in timm; torchvision calls it an MBConv with expand ratio 1. Both are the
// same layers: depthwise conv, BN, activation, SE, pointwise projection, BN.
//
// The head width is the baseline's 1280 scaled and rounded (timm's rule).
// torchvision instead takes four times the rounded last stage width; the two
// agree for every released model and for any width w ≥ 0.025 where 320·w
// is a multiple of 8, and differ by rounding elsewhere (w=1.01: 1296 here, 1280 there).
package arch
