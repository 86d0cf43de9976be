//go:build amd64 && !noasm

package gemm

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestSweepStart pins which calls of the 24×16 kernel prefetch the next k
// block as one run: only tiles side by side that cover whole rows of A
// transposed in place, as dW/expand16to96 (96 channels, 4 tiles) has them.
func TestSweepStart(t *testing.T) {
	const mr, kc = 24, 512
	a := make([]float32, 96*kc)
	base := uintptr(unsafe.Pointer(&a[0]))
	require.Equal(t, base+4*kc*96, sweepStart(mr, kc, a, 1, 96, 4, mr), "dW/expand16to96")
	for _, c := range []struct {
		name                   string
		rsA, csA, tiles, aStep int
	}{
		{"rows of a wider A", 1, 97, 4, mr},
		{"part of the rows", 1, 96, 3, mr},
		{"tiles apart", 1, 96, 4, mr + 1},
		{"A by rows", kc, 1, 4, mr * kc},
		{"packed A", 1, mr, 4, mr * kc},
	} {
		require.Zero(t, sweepStart(mr, kc, a, c.rsA, c.csA, c.tiles, c.aStep), c.name)
	}
}
