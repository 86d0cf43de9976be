//go:build amd64 && !noasm

package direct

import "golang.org/x/sys/cpu"

//go:generate go run gen_amd64.go

// s2c3x16AVX512 computes out[p·ldo + j] = Σ_t x[offs[t]/4 + 6p]·w[t·ldw/4 + j]
// for eight pixels p and 16 channels j over ntaps taps; ldo and ldw are in
// bytes. The pixels of stride 2 over 3 channels are 24 bytes apart.
// s2c3x32AVX512 is the same for 32 channels.
//
//go:noescape
func s2c3x16AVX512(out *float32, ldo int, x *float32, offs *int, ntaps int, w *float32, ldw int)

//go:noescape
func s2c3x32AVX512(out *float32, ldo int, x *float32, offs *int, ntaps int, w *float32, ldw int)

// best is the assembly kernel for this CPU, or nil.
var best = func() func(out []float32, ldo int, x []float32, offs []int, w []float32, width int) {
	if !cpu.X86.HasAVX512F {
		return nil
	}
	return runS2C3
}()

// runS2C3 checks the operands' extents and runs the kernel for eight
// pixels (stride 2, 3 channels) and width (16 or 32) output channels.
// ldo, in elements, is both the output's pixel stride and the weights' tap
// stride: the output channel count O.
func runS2C3(out []float32, ldo int, x []float32, offs []int, w []float32, width int) {
	taps := len(offs)
	_ = out[(pixels-1)*ldo+width-1]
	_ = w[(taps-1)*ldo+width-1]
	last := 0
	for _, o := range offs {
		last = max(last, o/4)
	}
	_ = x[last+(pixels-1)*6]
	if width == 2*lanes {
		s2c3x32AVX512(&out[0], 4*ldo, &x[0], &offs[0], taps, &w[0], 4*ldo)
		return
	}
	s2c3x16AVX512(&out[0], 4*ldo, &x[0], &offs[0], taps, &w[0], 4*ldo)
}
