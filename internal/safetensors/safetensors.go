// Package safetensors reads and writes the safetensors format: an 8-byte
// little-endian header length, a JSON header mapping each tensor name to its
// dtype, shape and byte range, and the raw little-endian data.
//
// Reading is defensive because weights files come from strangers: the header
// size is bounded, every byte range must lie inside the data section, ranges
// may not overlap, the dtype must be known and the byte count must match the
// shape. A file that breaks any rule is rejected with an error naming the
// tensor and the rule.
package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
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
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(header))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("safetensors: header is not a JSON object: %v", err)
	}
	f := &File{tensors: make(map[string]*Tensor, len(raw))}
	type span struct {
		lo, hi int64
		name   string
	}
	var spans []span
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors: __metadata__ is not a map of strings: %v", err)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: bad header entry: %v", name, err)
		}
		size := e.DType.Size()
		if size == 0 {
			return nil, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", name, e.DType)
		}
		numel := int64(1)
		for _, d := range e.Shape {
			if d < 0 {
				return nil, fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", name, e.Shape)
			}
			if d != 0 && numel > math.MaxInt64/int64(d)/int64(size) {
				return nil, fmt.Errorf("safetensors: tensor %q: shape %v is absurdly large", name, e.Shape)
			}
			numel *= int64(d)
		}
		lo, hi := e.DataOffsets[0], e.DataOffsets[1]
		if lo < 0 || hi < lo || hi > int64(len(data)) {
			return nil, fmt.Errorf("safetensors: tensor %q: data offsets [%d, %d) lie outside the %d-byte data section", name, lo, hi, len(data))
		}
		if hi-lo != numel*int64(size) {
			return nil, fmt.Errorf("safetensors: tensor %q: shape %v of %s needs %d bytes, offsets give %d", name, e.Shape, e.DType, numel*int64(size), hi-lo)
		}
		f.tensors[name] = &Tensor{Name: name, DType: e.DType, Shape: e.Shape, Data: data[lo:hi:hi]}
		spans = append(spans, span{lo, hi, name})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].lo < spans[j].lo })
	for i := 1; i < len(spans); i++ {
		if spans[i].lo < spans[i-1].hi {
			return nil, fmt.Errorf("safetensors: tensors %q and %q overlap", spans[i-1].name, spans[i].name)
		}
	}
	return f, nil
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
// in the order given. Names must be unique and byte counts must match shapes.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header := make(map[string]any, len(tensors)+1)
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for i := range tensors {
		t := &tensors[i]
		if t.Name == "__metadata__" {
			return fmt.Errorf("safetensors: %q is reserved", t.Name)
		}
		if _, dup := header[t.Name]; dup {
			return fmt.Errorf("safetensors: tensor %q written twice", t.Name)
		}
		if t.DType.Size() == 0 {
			return fmt.Errorf("safetensors: tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		if want := t.Numel() * t.DType.Size(); want != len(t.Data) {
			return fmt.Errorf("safetensors: tensor %q: shape %v of %s needs %d bytes, has %d", t.Name, t.Shape, t.DType, want, len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = headerEntry{DType: t.DType, Shape: shape, DataOffsets: [2]int64{off, off + int64(len(t.Data))}}
		off += int64(len(t.Data))
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return err
	}
	// Pad the header with spaces to a multiple of 8 so that the data section
	// is aligned, as the reference implementation does.
	for len(hb)%8 != 0 {
		hb = append(hb, ' ')
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
// half-written file where a good one was.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) (err error) {
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
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
