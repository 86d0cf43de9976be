// Package vmath evaluates the logistic sigmoid and SiLU (x·sigmoid(x)),
// with their gradients, on float32 slices, the elementwise passes that
// EfficientNet runs after nearly every convolution.
//
// # Design
//
// A float64 math.Exp per element costs about 11 ns; these loops cost well
// under 1 ns per element, so that the passes are bound by memory rather
// than by the exponential. e^x is computed as 2^n·e^r with n = round(x/ln 2)
// and r = x - n·ln 2 (Cody-Waite reduction in two parts), e^r by Cephes'
// degree-5 expf polynomial, and 2^n assembled in the exponent field. The
// argument is clamped to [-87.34, 88] so that 2^n stays a finite normal
// number: sigmoid then saturates to exactly 1 above 88 and to about 6e-39
// below -87 (never NaN or Inf for finite input), and NaN propagates.
// Measured accuracy: e^x within 0.96 ulp of math.Exp, sigmoid within
// 2.3 ulp and SiLU within 2.7 ulp of float64 on [-20, 20].
//
// # Implementations
//
// On amd64 the loops run in assembly over whole vectors, AVX-512 (16
// floats, constants held in registers) or else AVX2 with FMA (8 floats),
// chosen once from golang.org/x/sys/cpu; the Go code finishes the ragged
// end. Other architectures and builds with the noasm tag use only the Go
// code, which evaluates the same formulas in the same order: the assembly
// differs only where a fused multiply-add rounds once instead of twice (at
// most a few ulp; the tests compare every implementation with the Go one).
//
// # Batch normalisation passes
//
// NormRows, NormGradRows, CenteredSums and CenteredGradSums are the four
// per-element passes of a float32 BatchNorm over NHWC rows, where the
// channel is the fastest index: each row lines up with one row of
// per-channel coefficients, so the loops vectorise along the channels
// with no gathering. They are bound by memory bandwidth; the AVX-512 and
// AVX2 versions run 4 to 6 times faster than the Go loops (measured on
// 25 MB of rows of 96 channels), which other CPUs and noasm builds use, and the sums accumulate
// in float64 lanes so that a million rows lose no float32 digits.
package vmath
