package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encode writes tensors and metadata to memory, failing the test on error.
func encode(t testing.TB, tensors []Tensor, metadata map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, tensors, metadata))
	return buf.Bytes()
}

// rawFile assembles a file from a literal header and data section, the way a
// hostile or buggy writer would, without Write's checks.
func rawFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func TestRoundTripTypes(t *testing.T) {
	f32 := []float32{0, 1.5, -2.25, float32(math.Inf(1)), float32(math.NaN()), math.SmallestNonzeroFloat32, float32(math.Copysign(0, -1))}
	f64 := []float64{math.Pi, -1e300, math.Inf(-1), math.NaN(), math.SmallestNonzeroFloat64, math.Copysign(0, -1)}
	i64 := []int64{math.MinInt64, -1, 0, 1, math.MaxInt64, 1 << 53}
	meta := map[string]string{
		"framework": "effnet",
		"html":      "<b>&amp;</b>",
		"unicode":   "効率的なネット ✓",
		"empty":     "",
	}
	in := []Tensor{
		FromFloat32("conv.weight", f32, 7, 1, 1, 1),
		FromFloat64("bn.running_var", f64, 2, 3),
		FromInt64("labels", i64, 6),
	}
	b := encode(t, in, meta)

	f, err := Parse(b)
	require.NoError(t, err)
	assert.Equal(t, []string{"bn.running_var", "conv.weight", "labels"}, f.Names())
	assert.Equal(t, meta, f.Metadata)

	got32, shape, err := f.Float32("conv.weight")
	require.NoError(t, err)
	assert.Equal(t, []int{7, 1, 1, 1}, shape)
	for i := range f32 {
		// Bit patterns, not values: NaN != NaN and -0 == 0 would hide a bug.
		assert.Equal(t, math.Float32bits(f32[i]), math.Float32bits(got32[i]), "conv.weight[%d]", i)
	}
	got64, shape, err := f.Float64("bn.running_var")
	require.NoError(t, err)
	assert.Equal(t, []int{2, 3}, shape)
	for i := range f64 {
		assert.Equal(t, math.Float64bits(f64[i]), math.Float64bits(got64[i]), "bn.running_var[%d]", i)
	}
	gotI, shape, err := f.Int64("labels")
	require.NoError(t, err)
	assert.Equal(t, []int{6}, shape)
	assert.Equal(t, i64, gotI)

	// Layout: the data section holds the tensors in the order given, right
	// after a header padded to 8 bytes so that F64 data is aligned.
	n := binary.LittleEndian.Uint64(b)
	assert.Zero(t, n%8, "header length %d is not a multiple of 8", n)
	data := b[8+n:]
	assert.Equal(t, slices.Concat(in[0].Data, in[1].Data, in[2].Data), data)
	// Unescaped like the reference writer's output.
	assert.Contains(t, string(b[8:8+n]), "<b>&amp;</b>")
}

func TestRoundTripEmptyShapes(t *testing.T) {
	in := []Tensor{
		FromFloat64("loss", []float64{0.5}),                   // 0-d scalar, shape []
		{Name: "nilshape", DType: I64, Data: make([]byte, 8)}, // nil shape is a scalar too
		FromFloat32("none", nil, 0),
		FromFloat32("empty3d", nil, 3, 0, 2),
		FromFloat64("last", []float64{1, 2}, 2),
		FromInt64("trailing_empty", nil, 0, 5),
	}
	f, err := Parse(encode(t, in, nil))
	require.NoError(t, err)
	assert.Nil(t, f.Metadata, "no metadata written, none read")

	v, shape, err := f.Float64("loss")
	require.NoError(t, err)
	assert.Equal(t, []float64{0.5}, v)
	assert.Equal(t, []int{}, shape)

	iv, shape, err := f.Int64("nilshape")
	require.NoError(t, err)
	assert.Equal(t, []int64{0}, iv)
	assert.Equal(t, []int{}, shape)

	for name, want := range map[string][]int{"none": {0}, "empty3d": {3, 0, 2}, "trailing_empty": {0, 5}} {
		tn := f.Tensor(name)
		require.NotNil(t, tn, name)
		assert.Equal(t, want, tn.Shape, name)
		assert.Empty(t, tn.Data, name)
		assert.Zero(t, tn.Numel(), name)
		d, _, err := f.Float64(name)
		require.NoError(t, err, name)
		assert.Empty(t, d, name)
	}
	v, _, err = f.Float64("last")
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 2}, v)
}

func TestRoundTripNoTensors(t *testing.T) {
	b := encode(t, nil, nil)
	// The reference writer's bytes for an empty file: "{}" padded to 8.
	assert.Equal(t, rawFile("{}      ", nil), b)
	f, err := Parse(b)
	require.NoError(t, err)
	assert.Empty(t, f.Names())

	f, err = Parse(encode(t, nil, map[string]string{"k": "v"}))
	require.NoError(t, err)
	assert.Empty(t, f.Names())
	assert.Equal(t, map[string]string{"k": "v"}, f.Metadata)
}

// TestReferenceFixture reads tensors PyTorch wrote (copied byte for byte from
// shared/reference/layers_f64.safetensors) and checks them against each
// other, which a wrong byte order, offset or dtype would break.
func TestReferenceFixture(t *testing.T) {
	f, err := ReadFile("testdata/layers_subset_f64.safetensors")
	require.NoError(t, err)
	assert.Equal(t, []string{"ce.labels", "ce.logits", "ce.loss", "linear.bias", "linear.input", "linear.output", "linear.weight"}, f.Names())
	assert.Contains(t, f.Metadata["linear"], "nn.Linear(32,10)")

	x, xs, err := f.Float64("linear.input")
	require.NoError(t, err)
	w, ws, err := f.Float64("linear.weight")
	require.NoError(t, err)
	bias, _, err := f.Float64("linear.bias")
	require.NoError(t, err)
	y, ys, err := f.Float64("linear.output")
	require.NoError(t, err)
	require.Equal(t, []int{4, 32}, xs)
	require.Equal(t, []int{10, 32}, ws)
	require.Equal(t, []int{4, 10}, ys)
	for i := range 4 {
		for o := range 10 {
			s := bias[o]
			for k := range 32 {
				s += x[i*32+k] * w[o*32+k]
			}
			// float64 dot products of 32 terms of order 1 differ from
			// PyTorch's (other summation order) by a few ulps of ~1e-16.
			assert.InDelta(t, y[i*10+o], s, 1e-13, "linear.output[%d,%d]", i, o)
		}
	}

	logits, _, err := f.Float64("ce.logits")
	require.NoError(t, err)
	labels, ls, err := f.Int64("ce.labels")
	require.NoError(t, err)
	require.Equal(t, []int{4}, ls)
	loss, lossShape, err := f.Float64("ce.loss")
	require.NoError(t, err)
	assert.Equal(t, []int{}, lossShape, "PyTorch's 0-d loss")
	var want float64
	for i, c := range labels {
		require.True(t, c >= 0 && c < 10, "label %d", c)
		row := logits[i*10 : i*10+10]
		m := slices.Max(row)
		var z float64
		for _, v := range row {
			z += math.Exp(v - m)
		}
		want += (m + math.Log(z) - row[c]) / 4
	}
	// Same float64 computation in another order: rounding of ~1e-16 per term.
	assert.InDelta(t, want, loss[0], 1e-13)

	// A file from another writer survives our writer unchanged.
	tensors := make([]Tensor, 0, len(f.Names()))
	for _, name := range f.Names() {
		tensors = append(tensors, *f.Tensor(name))
	}
	g, err := Parse(encode(t, tensors, f.Metadata))
	require.NoError(t, err)
	assertSameFile(t, f, g)
}

func TestConversions(t *testing.T) {
	i32 := make([]byte, 8)
	binary.LittleEndian.PutUint32(i32, uint32(0xFFFFFFFE)) // -2
	binary.LittleEndian.PutUint32(i32[4:], 7)
	f, err := Parse(encode(t, []Tensor{
		FromFloat32("f32", []float32{0.1}, 1),
		FromInt64("i64", []int64{-3, 1 << 40}, 2),
		{Name: "i32", DType: I32, Shape: []int{2}, Data: i32},
		{Name: "bf16", DType: BF16, Shape: []int{1}, Data: []byte{0x80, 0x3f}},
	}, nil))
	require.NoError(t, err)

	v, _, err := f.Float64("f32")
	require.NoError(t, err)
	assert.Equal(t, []float64{float64(float32(0.1))}, v, "widening is exact")
	v, _, err = f.Float64("i64")
	require.NoError(t, err)
	assert.Equal(t, []float64{-3, 1 << 40}, v)
	v, _, err = f.Float64("i32")
	require.NoError(t, err)
	assert.Equal(t, []float64{-2, 7}, v)
	iv, _, err := f.Int64("i32")
	require.NoError(t, err)
	assert.Equal(t, []int64{-2, 7}, iv)

	_, _, err = f.Float64("bf16")
	assert.ErrorContains(t, err, "cannot convert dtype BF16")
	_, _, err = f.Float32("bf16")
	assert.ErrorContains(t, err, "cannot convert dtype BF16")
	_, _, err = f.Int64("f32")
	assert.ErrorContains(t, err, "dtype F32 is not an integer type")
	for _, get := range []func(string) error{
		func(n string) error { _, _, err := f.Float64(n); return err },
		func(n string) error { _, _, err := f.Float32(n); return err },
		func(n string) error { _, _, err := f.Int64(n); return err },
	} {
		err := get("missing")
		assert.ErrorIs(t, err, ErrNotFound)
		assert.ErrorContains(t, err, `"missing"`)
	}
	assert.Nil(t, f.Tensor("missing"))

	// The returned shape is a copy: changing it must not change the file.
	_, shape, err := f.Float64("i64")
	require.NoError(t, err)
	shape[0] = 99
	assert.Equal(t, []int{2}, f.Tensor("i64").Shape)
}

// hostileCase is a file that Parse must reject, with the words the error
// must contain to name the problem.
type hostileCase struct {
	name string
	file []byte
	want string
}

func hostileCases() []hostileCase {
	f32 := func(n int) []byte { return make([]byte, 4*n) }
	good := rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32(2))
	withHeaderLen := func(n uint64, rest []byte) []byte {
		return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
	}
	return []hostileCase{
		{"empty file", nil, "shorter than the 8-byte header length"},
		{"shorter than the length field", []byte{2, 0, 0}, "shorter than the 8-byte header length"},
		{"header length past end of file", withHeaderLen(100, []byte(`{}`)), "header length 100 runs past the end of the 10-byte file"},
		{"absurd header size", withHeaderLen(1<<40, []byte(`{}`)), "exceeds the 104857600-byte limit"},
		{"header size wraps int64", withHeaderLen(math.MaxUint64, []byte(`{}`)), "exceeds the 104857600-byte limit"},
		{"header not JSON", rawFile(`hello`, nil), "header is not JSON"},
		{"header cut mid-JSON", rawFile(`{"a":{"dtype":"F3`, nil), "header is not JSON"},
		{"header a JSON array", rawFile(`[1,2]`, nil), "header is not a JSON object"},
		{"header JSON null", rawFile(`null`, nil), "header is not a JSON object"},
		{"header empty", rawFile(``, nil), "header is not JSON"},
		{"garbage after header object", rawFile(`{}  x`, nil), "1 bytes of non-whitespace after the JSON object"},
		{"second object in header", rawFile(`{}{}`, nil), "non-whitespace after the JSON object"},
		{"header not UTF-8", rawFile("{\"a\xff\":{}}", nil), "header is not valid UTF-8"},
		{"entry not an object", rawFile(`{"a":5}`, nil), `tensor "a": bad header entry`},
		{"missing dtype", rawFile(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, f32(1)), `tensor "a": header entry has no dtype`},
		{"missing shape", rawFile(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, f32(1)), `tensor "a": header entry has no shape`},
		{"null shape", rawFile(`{"a":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}`, f32(1)), `tensor "a": header entry has no shape`},
		{"missing offsets", rawFile(`{"a":{"dtype":"F32","shape":[1]}}`, f32(1)), `tensor "a": data_offsets must be [begin, end], got []`},
		{"three offsets", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, f32(1)), "data_offsets must be [begin, end], got [0 4 8]"},
		{"fractional dimension", rawFile(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, f32(1)), `tensor "a": bad header entry`},
		{"offsets past data end", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32(1)), `tensor "a": data offsets [0, 8) lie outside the 4-byte data section`},
		{"negative offsets", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, f32(1)), "data offsets [-4, 0) lie outside"},
		{"offsets reversed", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, f32(1)), `tensor "a": data offsets [4, 0) end before they begin`},
		{"offset beyond int64", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,9223372036854775808]}}`, f32(1)), `tensor "a": bad header entry`},
		{"overlapping tensors", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, f32(3)), `tensors "a" [0, 8) and "b" [4, 12) overlap`},
		{"aliased tensors", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32(2)), `tensors "a" [0, 8) and "b" [0, 8) overlap`},
		{"empty tensor inside another", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, f32(2)), `tensors "a" [0, 8) and "z" [4, 4) overlap`},
		{"unknown dtype", rawFile(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, make([]byte, 16)), `tensor "a": unknown dtype "F128"`},
		{"lowercase dtype", rawFile(`{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}`, f32(1)), `unknown dtype "f32"`},
		{"shape and byte count disagree", rawFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, f32(2)), `tensor "a": shape [3] of F32 needs 12 bytes, offsets give 8`},
		{"negative dimension", rawFile(`{"a":{"dtype":"F32","shape":[-1,-2],"data_offsets":[0,8]}}`, f32(2)), `tensor "a": negative dimension in shape [-1 -2]`},
		{"dimensions overflow", rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil), "shape [4294967296 4294967296] of F32 overflows a 64-bit byte count"},
		{"dimensions overflow to zero", rawFile(`{"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil), "overflows a 64-bit byte count"},
		{"dimension beyond int", rawFile(`{"a":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,0]}}`, nil), `tensor "a": bad header entry`},
		{"duplicate name", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(2)), `name "a" appears twice in the header`},
		{"duplicate name via escape", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\u0061":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(2)), `name "a" appears twice`},
		{"duplicate metadata", rawFile(`{"__metadata__":{},"__metadata__":{"x":"y"}}`, nil), `name "__metadata__" appears twice`},
		{"truncated data", good[:len(good)-3], `tensor "a": data offsets [0, 8) lie outside the 5-byte data section`},
		{"metadata values not strings", rawFile(`{"__metadata__":{"epochs":10}}`, nil), "__metadata__ is not a map of strings"},
		{"metadata an array", rawFile(`{"__metadata__":["a","b"]}`, nil), "__metadata__ is not a map of strings"},
		{"gap between tensors", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, f32(3)), `4 bytes between tensors "a" and "b" belong to no tensor`},
		{"gap before first tensor", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(2)), `the first 4 bytes of the data section belong to no tensor (tensor "a" starts at 4)`},
		{"bytes after last tensor", append(slices.Clone(good), 1, 2, 3), "the last 3 bytes of the 11-byte data section belong to no tensor"},
		{"data but no tensors", rawFile(`{}`, []byte{0}), "the last 1 bytes of the 1-byte data section belong to no tensor"},
	}
}

func TestParseRejectsHostileFiles(t *testing.T) {
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse(c.file)
			require.Error(t, err)
			assert.Nil(t, f)
			assert.ErrorContains(t, err, c.want)
			assert.Contains(t, err.Error(), "safetensors: ", "errors say where they come from")
		})
	}
}

// TestParseAcceptsReferenceQuirks covers what other writers legitimately do
// differently from Write: entries in any order, extra fields, whitespace,
// tab padding, zero-size tensors sharing an offset with a real one.
func TestParseAcceptsReferenceQuirks(t *testing.T) {
	data := make([]byte, 12)
	binary.LittleEndian.PutUint32(data[0:], math.Float32bits(1))
	binary.LittleEndian.PutUint32(data[4:], math.Float32bits(2))
	binary.LittleEndian.PutUint32(data[8:], math.Float32bits(3))
	header := "\n { \"b\" : {\"data_offsets\":[4,12],\"shape\":[2],\"dtype\":\"F32\",\"extra\":{\"x\":[1]}},\n" +
		"\"z\":{\"dtype\":\"F64\",\"shape\":[0,3],\"data_offsets\":[0,0]},\n" +
		"\"z2\":{\"dtype\":\"I64\",\"shape\":[0],\"data_offsets\":[12,12]},\n" +
		"\"__metadata__\":null,\n" +
		"\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}\t\r\n  "
	f, err := Parse(rawFile(header, data))
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "z", "z2"}, f.Names())
	assert.Nil(t, f.Metadata)
	v, _, err := f.Float32("b")
	require.NoError(t, err)
	assert.Equal(t, []float32{2, 3}, v)
	v, _, err = f.Float32("a")
	require.NoError(t, err)
	assert.Equal(t, []float32{1}, v)
}

func TestParseAliasesInput(t *testing.T) {
	b := encode(t, []Tensor{FromFloat32("w", []float32{1, 2}, 2)}, nil)
	f, err := Parse(b)
	require.NoError(t, err)
	tn := f.Tensor("w")
	// Zero-copy, with the capacity clipped so that appending to one
	// tensor's data cannot overwrite its neighbour.
	assert.Equal(t, len(tn.Data), cap(tn.Data))
	assert.Same(t, &b[len(b)-8], &tn.Data[0])
}

func TestWriteRejectsBadTensors(t *testing.T) {
	ok := FromFloat32("ok", []float32{1}, 1)
	cases := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    string
	}{
		{"wrong byte count", []Tensor{ok, {Name: "w", DType: F32, Shape: []int{2, 2}, Data: make([]byte, 12)}}, nil, `tensor "w": shape [2 2] of F32 needs 16 bytes, has 12`},
		{"negative dims that multiply out", []Tensor{{Name: "w", DType: F32, Shape: []int{-1, -1}, Data: make([]byte, 4)}}, nil, `tensor "w": negative dimension in shape [-1 -1]`},
		{"overflowing dims", []Tensor{{Name: "w", DType: F64, Shape: []int{1 << 31, 1 << 31, 4}}}, nil, `tensor "w": shape [2147483648 2147483648 4] of F64 overflows`},
		{"unknown dtype", []Tensor{{Name: "w", DType: "Q4", Shape: []int{1}, Data: []byte{0}}}, nil, `tensor "w": unknown dtype "Q4"`},
		{"duplicate", []Tensor{ok, ok}, nil, `tensor "ok" written twice`},
		{"reserved name", []Tensor{FromFloat32("__metadata__", nil, 0)}, nil, `"__metadata__" is reserved`},
		{"name not UTF-8", []Tensor{FromFloat32("w\xff", nil, 0)}, nil, "tensor name \"w\\xff\" is not valid UTF-8"},
		{"metadata not UTF-8", []Tensor{ok}, map[string]string{"k": "\xfe"}, `metadata entry "k": key or value is not valid UTF-8`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, c.tensors, c.meta)
			assert.ErrorContains(t, err, c.want)
			assert.Zero(t, buf.Len(), "nothing may be written before the tensors are checked")
		})
	}
}

// dirNames lists a folder, to catch temporary files left behind.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")

	first := []Tensor{FromFloat32("w", []float32{1, 2, 3}, 3)}
	require.NoError(t, WriteFile(path, first, map[string]string{"epoch": "1"}))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "new files are readable by others like os.Create's")
	old, err := os.ReadFile(path)
	require.NoError(t, err)

	// A failing write, here a tensor whose bytes do not match its shape,
	// leaves the old file byte for byte and no temporary file behind.
	bad := []Tensor{FromFloat32("w", []float32{4, 5, 6}, 3), {Name: "broken", DType: F32, Shape: []int{2}, Data: make([]byte, 7)}}
	err = WriteFile(path, bad, nil)
	require.ErrorContains(t, err, `tensor "broken": shape [2] of F32 needs 8 bytes, has 7`)
	now, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, old, now)
	assert.Equal(t, []string{"model.safetensors"}, dirNames(t, dir))

	// A successful write replaces the content and keeps the permissions
	// someone chose for the old file.
	require.NoError(t, os.Chmod(path, 0o600))
	second := []Tensor{FromFloat64("w", []float64{7, 8}, 2), FromInt64("step", []int64{100})}
	require.NoError(t, WriteFile(path, second, map[string]string{"epoch": "2"}))
	assert.Equal(t, []string{"model.safetensors"}, dirNames(t, dir))
	fi, err = os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	f, err := ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"epoch": "2"}, f.Metadata)
	v, shape, err := f.Float64("w")
	require.NoError(t, err)
	assert.Equal(t, []float64{7, 8}, v)
	assert.Equal(t, []int{2}, shape)
}

func TestWriteFileErrors(t *testing.T) {
	dir := t.TempDir()
	err := WriteFile(filepath.Join(dir, "no", "such", "dir", "m.safetensors"), nil, nil)
	assert.ErrorIs(t, err, os.ErrNotExist)

	// A directory where the file should go: the rename fails, and the
	// temporary file is cleaned up.
	target := filepath.Join(dir, "taken")
	require.NoError(t, os.Mkdir(target, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(target, "keep"), nil, 0o644))
	err = WriteFile(target, []Tensor{FromFloat32("w", []float32{1}, 1)}, nil)
	assert.Error(t, err)
	assert.Equal(t, []string{"taken"}, dirNames(t, dir))
}

func TestReadFileErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.safetensors")
	require.NoError(t, os.WriteFile(path, rawFile(`{"a":1}`, nil), 0o644))
	_, err := ReadFile(path)
	assert.ErrorContains(t, err, path+": safetensors: tensor \"a\": bad header entry")

	_, err = ReadFile(filepath.Join(dir, "missing.safetensors"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	f, err := Read(bytes.NewReader(encode(t, []Tensor{FromFloat32("x", []float32{2}, 1)}, nil)))
	require.NoError(t, err)
	assert.Equal(t, []string{"x"}, f.Names())
}

// assertSameFile checks that two parsed files hold the same tensors and
// metadata, treating absent and empty metadata alike (Write omits an empty
// map).
func assertSameFile(t testing.TB, want, got *File) {
	t.Helper()
	require.Equal(t, want.Names(), got.Names())
	for _, name := range want.Names() {
		w, g := want.Tensor(name), got.Tensor(name)
		assert.Equal(t, w.DType, g.DType, name)
		assert.Equal(t, len(w.Shape), len(g.Shape), name)
		assert.True(t, slices.Equal(w.Shape, g.Shape), "%s: shape %v, want %v", name, g.Shape, w.Shape)
		assert.True(t, bytes.Equal(w.Data, g.Data), "%s: data differs", name)
	}
	if len(want.Metadata) == 0 {
		assert.Empty(t, got.Metadata)
	} else {
		assert.Equal(t, want.Metadata, got.Metadata)
	}
}
