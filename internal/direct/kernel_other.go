//go:build !amd64 || noasm

package direct

// best is nil without an assembly kernel: every pixel takes pixelGo and
// Supported reports false, so callers keep their general path.
var best func(out []float32, ldo int, x []float32, offs []int, w []float32, width int)
