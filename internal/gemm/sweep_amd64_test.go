//go:build amd64 && !noasm

package gemm

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestSweepStarts pins which calls of the 24×16 kernel prefetch the next k
// blocks of A and B as runs: only tiles side by side that cover whole rows
// of A transposed in place, as dW/expand16to96 (96 channels, 4 tiles)
// has them, and only blocks that lie within the operands.
func TestSweepStarts(t *testing.T) {
	const mr, kc = 24, 512
	a := make([]float32, 2*kc*96)
	b := make([]float32, 2*kc*16)
	baseA := uintptr(unsafe.Pointer(&a[0]))
	baseB := uintptr(unsafe.Pointer(&b[0]))
	sa, sb := sweepStarts(mr, kc, a, 1, 96, 4, mr, b, 16)
	require.Equal(t, baseA+4*kc*96, sa, "dW/expand16to96: A")
	require.Equal(t, baseB+4*kc*16, sb, "dW/expand16to96: B")

	// B's next block missing (a packed panel) or read slower than one
	// line per four steps covers it: B's current block instead.
	_, sb = sweepStarts(mr, kc, a, 1, 96, 4, mr, b[:kc*16:kc*16], 16)
	require.Equal(t, baseB, sb, "B without a next block")
	_, sb = sweepStarts(mr, kc, a[:2*kc*48], 1, 48, 2, mr, b, 16)
	require.Equal(t, baseB, sb, "B wider than 4·tiles floats")

	for _, c := range []struct {
		name                   string
		a                      []float32
		rsA, csA, tiles, aStep int
	}{
		{"A's last block", a[: kc*96+5 : kc*96+5], 1, 96, 4, mr},
		{"rows of a wider A", a, 1, 97, 4, mr},
		{"part of the rows", a, 1, 96, 3, mr},
		{"tiles apart", a, 1, 96, 4, mr + 1},
		{"A by rows", a, kc, 1, 4, mr * kc},
		{"packed A", a, 1, mr, 4, mr * kc},
	} {
		sa, sb := sweepStarts(mr, kc, c.a, c.rsA, c.csA, c.tiles, c.aStep, b, 16)
		require.Zero(t, sa, c.name)
		require.Zero(t, sb, c.name)
	}
}
