// Package tensor holds the dense storage that every effnet layer reads and
// writes: a shape and a flat, row-major slice of float32 or float64.
//
// # Layout
//
// Image activations are NHWC: batch, height, width, channels, with the
// channel index varying fastest. That choice is for CPU speed. A pointwise
// (1x1) convolution over NHWC data is a single GEMM of an (N·H·W)×Cin matrix
// by a Cin×Cout one with no reshuffling, and a depthwise convolution walks
// contiguous channels, so its inner loop is a straight vector multiply-add.
// PyTorch's NCHW is converted at the edges (loading weights and reference
// tensors), never in the hot path.
//
// Convolution weights are OHWI: [out, kh, kw, in/groups]. Row o of the
// weight, read as a flat kh·kw·in/groups vector, lines up with one im2col row
// of an NHWC input, so a convolution is a GEMM with the weight transposed.
// Linear weights are [out, in], as in PyTorch.
package tensor
