// Package direct runs a dense convolution with few input channels, such as
// an EfficientNet stem (3×3, stride 2, 3 channels in), directly on the
// NHWC input instead of through im2col and a matrix product.
//
// Through im2col the stem writes and reads back 27 values per output
// pixel, nine times its input, and the product then has an inner dimension
// of only 27, too short for the packed kernel to run at speed. The direct
// kernel keeps eight output pixels × 16 output channels in registers and,
// for each of the K·K·C taps, multiplies one vector of weights into them
// with the input value broadcast from memory: one weight load per eight
// fused multiply-adds and no intermediate buffer.
//
// The input must be padded already (the caller copies it into a buffer with
// its padding), so that every tap of every pixel lies inside it and the
// kernel has no border cases. The assembly covers stride 2 with 3 input
// channels and output channels in multiples of 16 on AVX-512, EfficientNet's
// stems for B0, B1, B2, B4, B5 and B7; Supported reports whether a shape
// has a fast kernel, and callers keep their general path for the rest.
package direct
