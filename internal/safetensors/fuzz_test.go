package safetensors

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParse feeds Parse arbitrary bytes. Parse must never panic, and a file
// it accepts must survive Write and Parse again unchanged, with Write's
// output a fixed point (writing the re-parsed file gives the same bytes).
//
//	go test -run XXX -fuzz FuzzParse ./internal/safetensors
func FuzzParse(f *testing.F) {
	for _, c := range hostileCases() {
		f.Add(c.file)
	}
	fixture, err := os.ReadFile("testdata/layers_subset_f64.safetensors")
	require.NoError(f, err)
	f.Add(fixture)
	var buf bytes.Buffer
	for _, seed := range [][]Tensor{
		nil,
		{FromFloat32("w", []float32{1, 2, 3, 4}, 2, 2), FromInt64("n", []int64{5})},
		{FromFloat64("a", []float64{1}), FromFloat32("empty", nil, 0, 3), {Name: "b", DType: BF16, Shape: []int{1}, Data: []byte{1, 2}}},
	} {
		buf.Reset()
		require.NoError(f, Write(&buf, seed, map[string]string{"k": "<v>"}))
		f.Add(bytes.Clone(buf.Bytes()))
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		parsed, err := Parse(b)
		if err != nil {
			return
		}
		// The accessors must cope with whatever Parse let through.
		for _, name := range parsed.Names() {
			tn := parsed.Tensor(name)
			if v, shape, err := parsed.Float64(name); err == nil {
				require.Len(t, v, tn.Numel())
				require.Equal(t, tn.Shape, shape)
			}
			if v, _, err := parsed.Int64(name); err == nil {
				require.Len(t, v, tn.Numel())
			}
		}

		first := rewrite(t, parsed)
		again, err := Parse(first)
		require.NoError(t, err, "Parse rejects what Write wrote")
		assertSameFile(t, parsed, again)
		require.Equal(t, first, rewrite(t, again), "Write is not a fixed point")
	})
}

// rewrite writes every tensor of f, in name order, with f's metadata.
func rewrite(t *testing.T, f *File) []byte {
	tensors := make([]Tensor, 0, len(f.Names()))
	for _, name := range f.Names() {
		tensors = append(tensors, *f.Tensor(name))
	}
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, tensors, f.Metadata), "Write rejects what Parse accepted")
	return buf.Bytes()
}
