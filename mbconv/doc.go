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
package mbconv
