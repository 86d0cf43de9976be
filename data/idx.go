package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// IDXArray is an n-dimensional array of unsigned bytes read from an IDX file,
// the format of MNIST and Fashion-MNIST. Data is row-major over Dims.
type IDXArray struct {
	Dims []int
	Data []uint8
}

// maxIDXBytes bounds what a header may claim, so that a corrupt or hostile
// header cannot make the reader attempt an absurd allocation.
const maxIDXBytes = 1 << 31

// ReadIDX reads an IDX array of unsigned bytes (type code 0x08), gzipped or
// not (recognised by the gzip magic bytes, not by the file name). The header
// is checked: two zero bytes, the type code, 1 to 4 dimensions, each positive,
// and the body must hold exactly the product of the dimensions.
func ReadIDX(r io.Reader) (*IDXArray, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx: gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	var head [4]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		return nil, fmt.Errorf("idx: reading magic number: %w", noEOF(err))
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, fmt.Errorf("idx: bad magic number % x: not an IDX file", head)
	}
	if head[2] != 0x08 {
		return nil, fmt.Errorf("idx: element type 0x%02x not supported, only unsigned bytes (0x08)", head[2])
	}
	nd := int(head[3])
	if nd < 1 || nd > 4 {
		return nil, fmt.Errorf("idx: %d dimensions, want 1 to 4", nd)
	}
	dims := make([]int, nd)
	total := 1
	for i := range dims {
		var d uint32
		if err := binary.Read(br, binary.BigEndian, &d); err != nil {
			return nil, fmt.Errorf("idx: reading dimension %d: %w", i, noEOF(err))
		}
		if d == 0 || int64(total)*int64(d) > maxIDXBytes {
			return nil, fmt.Errorf("idx: dimension %d is %d: size must be positive and at most %d bytes in all", i, d, maxIDXBytes)
		}
		dims[i] = int(d)
		total *= int(d)
	}
	// Grow the buffer as bytes arrive rather than trusting the header with
	// one big allocation; a short file then fails cheaply.
	var buf bytes.Buffer
	buf.Grow(min(total, 1<<22) + 1)
	if _, err := buf.ReadFrom(io.LimitReader(br, int64(total)+1)); err != nil {
		return nil, fmt.Errorf("idx: reading data: %w", err)
	}
	switch n := buf.Len(); {
	case n < total:
		return nil, fmt.Errorf("idx: header %v promises %d bytes, file holds %d: truncated", dims, total, n)
	case n > total:
		return nil, fmt.Errorf("idx: trailing bytes after the %d promised by header %v", total, dims)
	}
	return &IDXArray{Dims: dims, Data: buf.Bytes()}, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ReadIDXFile reads the IDX file at path; see ReadIDX.
func ReadIDXFile(path string) (*IDXArray, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := ReadIDX(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// GrayImages is an in-memory Dataset of single-channel images of one size,
// such as MNIST. Load returns *image.Gray views of the shared pixels without
// copying them; callers must not modify them.
type GrayImages struct {
	H, W    int
	pixels  []uint8
	labels  []int
	classes []string
}

// NewGrayImages builds a dataset from an [N, H, W] image array and an [N]
// label array, checking that the counts agree and every label names a class.
func NewGrayImages(images, labels *IDXArray, classes []string) (*GrayImages, error) {
	if len(images.Dims) != 3 {
		return nil, fmt.Errorf("idx: images have dimensions %v, want [N, H, W]", images.Dims)
	}
	if len(labels.Dims) != 1 {
		return nil, fmt.Errorf("idx: labels have dimensions %v, want [N]", labels.Dims)
	}
	if images.Dims[0] != labels.Dims[0] {
		return nil, fmt.Errorf("idx: %d images but %d labels", images.Dims[0], labels.Dims[0])
	}
	g := &GrayImages{H: images.Dims[1], W: images.Dims[2], pixels: images.Data,
		labels: make([]int, len(labels.Data)), classes: classes}
	for i, l := range labels.Data {
		if int(l) >= len(classes) {
			return nil, fmt.Errorf("idx: label %d of image %d is not below the %d classes", l, i, len(classes))
		}
		g.labels[i] = int(l)
	}
	return g, nil
}

// Len returns the number of images.
func (g *GrayImages) Len() int { return len(g.labels) }

// Label returns the class of image i.
func (g *GrayImages) Label(i int) int { return g.labels[i] }

// ClassNames returns the class names, indexed by label.
func (g *GrayImages) ClassNames() []string { return g.classes }

// Load returns image i; it never fails.
func (g *GrayImages) Load(i int) (image.Image, error) {
	n := g.H * g.W
	return &image.Gray{Pix: g.pixels[i*n : (i+1)*n : (i+1)*n], Stride: g.W, Rect: image.Rect(0, 0, g.W, g.H)}, nil
}

// FashionMNISTClasses are the labels of Fashion-MNIST, in label order. Read only.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// MNISTClasses are the digit labels of MNIST. Read only.
var MNISTClasses = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// FashionMNISTDir is where Debian's dataset-fashion-mnist package installs the files.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// MNISTStyle reads the MNIST file set in dir: train-images-idx3-ubyte and
// train-labels-idx1-ubyte for train, t10k-* for test, each with or without
// .gz. classes names the labels (FashionMNISTClasses or MNISTClasses).
func MNISTStyle(dir string, train bool, classes []string) (*GrayImages, error) {
	prefix := "t10k"
	if train {
		prefix = "train"
	}
	images, err := readIDXEitherWay(filepath.Join(dir, prefix+"-images-idx3-ubyte"))
	if err != nil {
		return nil, err
	}
	labels, err := readIDXEitherWay(filepath.Join(dir, prefix+"-labels-idx1-ubyte"))
	if err != nil {
		return nil, err
	}
	g, err := NewGrayImages(images, labels, classes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return g, nil
}

// readIDXEitherWay reads name.gz if it exists, else name.
func readIDXEitherWay(name string) (*IDXArray, error) {
	a, err := ReadIDXFile(name + ".gz")
	if !errors.Is(err, fs.ErrNotExist) {
		return a, err
	}
	a, err = ReadIDXFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("idx: neither %s.gz nor %s exists: %w", name, name, fs.ErrNotExist)
	}
	return a, err
}
