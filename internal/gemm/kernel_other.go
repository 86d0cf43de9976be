//go:build !amd64 || noasm

package gemm

// kernels lists every kernel this build can run: only the portable one.
func kernels() []*microKernel {
	return []*microKernel{&goKernel}
}
