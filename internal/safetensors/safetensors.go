package safetensors

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxHeaderSize bounds the JSON header. Real headers are a few hundred
// kilobytes at most; a larger claim is treated as a corrupt or hostile file.
const MaxHeaderSize = 100 << 20

// DType names an element type as the format spells it.
type DType string

const (
	F16  DType = "F16"
	BF16 DType = "BF16"
	F32  DType = "F32"
	F64  DType = "F64"
	I8   DType = "I8"
	I16  DType = "I16"
	I32  DType = "I32"
	I64  DType = "I64"
	U8   DType = "U8"
	BOOL DType = "BOOL"
)

// Size is the number of bytes of one element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case BOOL, U8, I8:
		return 1
	case F16, BF16, I16:
		return 2
	case F32, I32:
		return 4
	case F64, I64:
		return 8
	}
	return 0
}

// Tensor is one named tensor: its dtype, shape and raw little-endian bytes.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// Numel is the number of elements of the tensor's shape.
func (t *Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is a parsed safetensors file held in memory.
type File struct {
	Metadata map[string]string
	tensors  map[string]*Tensor
}

type headerEntry struct {
	DType       DType    `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// rawEntry is headerEntry as read from a file: pointers and a slice so that a
// missing field or an offsets array of the wrong length is an error rather
// than a silent zero.
type rawEntry struct {
	DType       *DType  `json:"dtype"`
	Shape       *[]int  `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// ReadFile reads and validates the safetensors file at path.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Read reads all of r and parses it.
func Read(r io.Reader) (*File, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse validates b as a safetensors file. Tensors alias b; do not modify b
// afterwards.
//
// Parse is as strict as the reference implementation (huggingface/safetensors),
// so that a file accepted here loads everywhere: the header is a UTF-8 JSON
// object followed by nothing but whitespace padding, each name appears once,
// every entry has a dtype, a shape and exactly two data offsets, and the
// tensors' byte ranges tile the data section: no overlap, no gap, no trailing
// bytes. Unclaimed bytes are rejected rather than ignored because an honest
// writer never leaves any (they mean truncation, concatenation or a bug) and
// a crafted file can hide a second payload in them.
func Parse(b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("safetensors: file is %d bytes, shorter than the 8-byte header length", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("safetensors: header length %d runs past the end of the %d-byte file (truncated?)", n, len(b))
	}
	header := b[8 : 8+n]
	data := b[8+n:]
	entries, err := headerEntries(header)
	if err != nil {
		return nil, err
	}
	f := &File{tensors: make(map[string]*Tensor, len(entries))}
	type span struct {
		lo, hi int64
		name   string
	}
	spans := make([]span, 0, len(entries))
	for _, kv := range entries {
		name := kv.name
		if name == "__metadata__" {
			if err := json.Unmarshal(kv.value, &f.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors: __metadata__ is not a map of strings: %v", err)
			}
			continue
		}
		var e rawEntry
		if err := json.Unmarshal(kv.value, &e); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: bad header entry: %v", name, err)
		}
		switch {
		case e.DType == nil:
			return nil, fmt.Errorf("safetensors: tensor %q: header entry has no dtype", name)
		case e.Shape == nil:
			return nil, fmt.Errorf("safetensors: tensor %q: header entry has no shape", name)
		case len(e.DataOffsets) != 2:
			return nil, fmt.Errorf("safetensors: tensor %q: data_offsets must be [begin, end], got %v", name, e.DataOffsets)
		}
		dtype, shape := *e.DType, *e.Shape
		want, err := byteSize(dtype, shape)
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %v", name, err)
		}
		lo, hi := e.DataOffsets[0], e.DataOffsets[1]
		if hi < lo {
			return nil, fmt.Errorf("safetensors: tensor %q: data offsets [%d, %d) end before they begin", name, lo, hi)
		}
		if lo < 0 || hi > int64(len(data)) {
			return nil, fmt.Errorf("safetensors: tensor %q: data offsets [%d, %d) lie outside the %d-byte data section", name, lo, hi, len(data))
		}
		if hi-lo != want {
			return nil, fmt.Errorf("safetensors: tensor %q: shape %v of %s needs %d bytes, offsets give %d", name, shape, dtype, want, hi-lo)
		}
		f.tensors[name] = &Tensor{Name: name, DType: dtype, Shape: shape, Data: data[lo:hi:hi]}
		spans = append(spans, span{lo, hi, name})
	}
	// Sorting by (begin, end) puts a zero-size tensor before a real one at
	// the same offset, so that sharing an offset is not mistaken for overlap.
	slices.SortFunc(spans, func(a, b span) int {
		return cmp.Or(cmp.Compare(a.lo, b.lo), cmp.Compare(a.hi, b.hi), strings.Compare(a.name, b.name))
	})
	var end int64
	prev := -1
	for i, s := range spans {
		switch {
		case s.lo < end:
			p := spans[prev]
			return nil, fmt.Errorf("safetensors: tensors %q [%d, %d) and %q [%d, %d) overlap", p.name, p.lo, p.hi, s.name, s.lo, s.hi)
		case s.lo > end && prev < 0:
			return nil, fmt.Errorf("safetensors: the first %d bytes of the data section belong to no tensor (tensor %q starts at %d)", s.lo, s.name, s.lo)
		case s.lo > end:
			return nil, fmt.Errorf("safetensors: %d bytes between tensors %q and %q belong to no tensor", s.lo-end, spans[prev].name, s.name)
		}
		end, prev = s.hi, i
	}
	if end != int64(len(data)) {
		return nil, fmt.Errorf("safetensors: the last %d bytes of the %d-byte data section belong to no tensor (truncated header or appended data?)", int64(len(data))-end, len(data))
	}
	return f, nil
}

type keyedValue struct {
	name  string
	value json.RawMessage
}

// headerEntries splits the header object into its members in file order.
// It walks the tokens itself because decoding into a map would silently keep
// the last of two members with the same name, and a duplicate name is
// exactly how a crafted file shows one loader different weights than another.
func headerEntries(header []byte) ([]keyedValue, error) {
	if !utf8.Valid(header) {
		return nil, errors.New("safetensors: header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("safetensors: header is not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("safetensors: header is not a JSON object: it starts with %v", tok)
	}
	var out []keyedValue
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("safetensors: header is not JSON: %v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("safetensors: header is not JSON: object key %v is not a string", tok)
		}
		if seen[name] {
			return nil, fmt.Errorf("safetensors: name %q appears twice in the header", name)
		}
		seen[name] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("safetensors: header is not JSON: %v", err)
		}
		out = append(out, keyedValue{name, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("safetensors: header is not JSON: %v", err)
	}
	// Writers pad the header with spaces to align the data; anything else
	// after the object is not part of the format.
	if rest := bytes.TrimLeft(header[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, fmt.Errorf("safetensors: header has %d bytes of non-whitespace after the JSON object", len(rest))
	}
	return out, nil
}

// byteSize is the number of bytes a tensor of dtype and shape occupies. It
// fails for an unknown dtype, a negative dimension, or a size that overflows
// int64 (the reference implementation rejects the same overflow).
func byteSize(dtype DType, shape []int) (int64, error) {
	size := int64(dtype.Size())
	if size == 0 {
		return 0, fmt.Errorf("unknown dtype %q", dtype)
	}
	n := size
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > math.MaxInt64/int64(d) {
			return 0, fmt.Errorf("shape %v of %s overflows a 64-bit byte count", shape, dtype)
		}
		n *= int64(d)
	}
	return n, nil
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.tensors))
	for n := range f.tensors {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Tensor returns the named tensor, or nil if the file has none by that name.
func (f *File) Tensor(name string) *Tensor { return f.tensors[name] }

// ErrNotFound is returned for a tensor name the file does not hold.
var ErrNotFound = errors.New("tensor not found")

// Float64 returns the named tensor's values converted to float64, with its
// shape. F32, F64, I32 and I64 tensors are accepted.
func (f *File) Float64(name string) ([]float64, []int, error) {
	t := f.tensors[name]
	if t == nil {
		return nil, nil, fmt.Errorf("safetensors: %q: %w", name, ErrNotFound)
	}
	out := make([]float64, t.Numel())
	le := binary.LittleEndian
	switch t.DType {
	case F64:
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(t.Data[8*i:]))
		}
	case F32:
		for i := range out {
			out[i] = float64(math.Float32frombits(le.Uint32(t.Data[4*i:])))
		}
	case I64:
		for i := range out {
			out[i] = float64(int64(le.Uint64(t.Data[8*i:])))
		}
	case I32:
		for i := range out {
			out[i] = float64(int32(le.Uint32(t.Data[4*i:])))
		}
	default:
		return nil, nil, fmt.Errorf("safetensors: %q: cannot convert dtype %s to float", name, t.DType)
	}
	return out, slices.Clone(t.Shape), nil
}

// Float32 is Float64 converted to float32.
func (f *File) Float32(name string) ([]float32, []int, error) {
	d, shape, err := f.Float64(name)
	if err != nil {
		return nil, nil, err
	}
	out := make([]float32, len(d))
	for i, v := range d {
		out[i] = float32(v)
	}
	return out, shape, nil
}

// Int64 returns the named integer tensor's values.
func (f *File) Int64(name string) ([]int64, []int, error) {
	t := f.tensors[name]
	if t == nil {
		return nil, nil, fmt.Errorf("safetensors: %q: %w", name, ErrNotFound)
	}
	out := make([]int64, t.Numel())
	le := binary.LittleEndian
	switch t.DType {
	case I64:
		for i := range out {
			out[i] = int64(le.Uint64(t.Data[8*i:]))
		}
	case I32:
		for i := range out {
			out[i] = int64(int32(le.Uint32(t.Data[4*i:])))
		}
	default:
		return nil, nil, fmt.Errorf("safetensors: %q: dtype %s is not an integer type", name, t.DType)
	}
	return out, slices.Clone(t.Shape), nil
}

// FromFloat32 builds an F32 tensor.
func FromFloat32(name string, data []float32, shape ...int) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, DType: F32, Shape: slices.Clone(shape), Data: b}
}

// FromFloat64 builds an F64 tensor.
func FromFloat64(name string, data []float64, shape ...int) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return Tensor{Name: name, DType: F64, Shape: slices.Clone(shape), Data: b}
}

// FromInt64 builds an I64 tensor.
func FromInt64(name string, data []int64, shape ...int) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Tensor{Name: name, DType: I64, Shape: slices.Clone(shape), Data: b}
}

// Write writes tensors and metadata in safetensors format, tensors laid out
// in the order given. Names must be unique valid UTF-8 and byte counts must
// match shapes. Write refuses anything Parse would refuse, so that what it
// writes can always be read back.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header := make(map[string]any, len(tensors)+1)
	if len(metadata) > 0 {
		for k, v := range metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return fmt.Errorf("safetensors: metadata entry %q: key or value is not valid UTF-8", k)
			}
		}
		header["__metadata__"] = metadata
	}
	var off int64
	for i := range tensors {
		t := &tensors[i]
		if t.Name == "__metadata__" {
			return fmt.Errorf("safetensors: %q is reserved", t.Name)
		}
		// JSON encoding would silently replace invalid bytes, so the name
		// read back would differ from the name written.
		if !utf8.ValidString(t.Name) {
			return fmt.Errorf("safetensors: tensor name %q is not valid UTF-8", t.Name)
		}
		if _, dup := header[t.Name]; dup {
			return fmt.Errorf("safetensors: tensor %q written twice", t.Name)
		}
		want, err := byteSize(t.DType, t.Shape)
		if err != nil {
			return fmt.Errorf("safetensors: tensor %q: %v", t.Name, err)
		}
		if want != int64(len(t.Data)) {
			return fmt.Errorf("safetensors: tensor %q: shape %v of %s needs %d bytes, has %d", t.Name, t.Shape, t.DType, want, len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = headerEntry{DType: t.DType, Shape: shape, DataOffsets: [2]int64{off, off + int64(len(t.Data))}}
		off += int64(len(t.Data))
	}
	// No HTML escaping: the reference writer emits "<" as is, and escaping
	// would make the header up to six times longer than the names.
	var hbuf bytes.Buffer
	enc := json.NewEncoder(&hbuf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header); err != nil {
		return err
	}
	hb := bytes.TrimSuffix(hbuf.Bytes(), []byte("\n"))
	// Pad the header with spaces to a multiple of 8 so that the data section
	// is aligned, as the reference implementation does.
	for len(hb)%8 != 0 {
		hb = append(hb, ' ')
	}
	if len(hb) > MaxHeaderSize {
		return fmt.Errorf("safetensors: header of %d bytes exceeds the %d-byte limit readers enforce", len(hb), MaxHeaderSize)
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hb)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hb); err != nil {
		return err
	}
	for i := range tensors {
		if _, err := w.Write(tensors[i].Data); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes the file atomically: to a temporary file in the same
// folder, synced, then renamed over path, so that a crash never leaves a
// half-written file where a good one was. The file gets the permissions of
// the file it replaces, or 0644 for a new file (a temporary file is created
// 0600, which would hide weights from other users).
func WriteFile(path string, tensors []Tensor, metadata map[string]string) (err error) {
	perm := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		perm = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = Write(bw, tensors, metadata); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
