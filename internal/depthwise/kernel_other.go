//go:build !amd64 || noasm

package depthwise

// available lists the kernels this build runs: only the portable one.
func available() []*kernels { return []*kernels{&goKernels} }

// best is chosen once; it never changes afterwards.
var best = available()[0]
