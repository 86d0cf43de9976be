// Package mbconv implements the mobile inverted bottleneck block (MBConv)
// that EfficientNet is made of:
//
//	x ─ 1×1 expand ─ BN ─ act ─ k×k depthwise ─ BN ─ act ─ squeeze-excite ─ 1×1 project ─ BN ─┬─ out
//	└──────────────────────────── identity (drop-path on the branch) ─────────────────────────┘
//
// The expansion is left out when the block does not widen its input
// (expand ratio 1; timm calls that block "depthwise separable"), squeeze-
// excite is left out when its width is 0, and the identity path exists only
// when the block keeps both its resolution and its width (stride 1, in ==
// out). Stochastic depth (drop-path) drops the whole residual branch per
// sample in training, as torchvision and timm do.
//
// Each BatchNorm applies the activation that follows it (layers.BatchNorm2D
// with Act), as timm's BatchNormAct2d does. In Eval mode the block runs
// fused: each BatchNorm is folded into the convolution before it, which
// applies it, the activation, squeeze-excite's pooling and the residual add
// to its output while it is in cache (layers.Conv2D.ForwardEval). A network
// can let all its blocks share their activation and gradient buffers
// (ShareEvalBuffers, ShareGradBuffers), since a block's inner tensors are
// dead once the next block runs.
package mbconv
