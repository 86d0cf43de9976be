package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// idxBytes builds an IDX file of unsigned bytes with the given dimensions.
func idxBytes(dims []uint32, body []byte) []byte {
	var buf bytes.Buffer
	buf.Write([]byte{0, 0, 0x08, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&buf, binary.BigEndian, d)
	}
	buf.Write(body)
	return buf.Bytes()
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestReadIDX(t *testing.T) {
	body := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	raw := idxBytes([]uint32{2, 3, 2}, body)
	for name, data := range map[string][]byte{"raw": raw, "gzip": gz(raw)} {
		a, err := ReadIDX(bytes.NewReader(data))
		require.NoError(t, err, name)
		assert.Equal(t, []int{2, 3, 2}, a.Dims, name)
		assert.Equal(t, body, a.Data, name)
	}
}

func TestReadIDXHostile(t *testing.T) {
	good := idxBytes([]uint32{2, 2}, []byte{1, 2, 3, 4})
	corrupt := gz(good)
	corrupt[len(corrupt)-6] ^= 0xFF // inside the CRC-32 trailer
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"empty":           {nil, "magic"},
		"bad magic":       {append([]byte{1, 0}, good[2:]...), "bad magic"},
		"float type":      {append([]byte{0, 0, 0x0D}, good[3:]...), "element type 0x0d"},
		"zero dims":       {[]byte{0, 0, 8, 0}, "0 dimensions"},
		"five dims":       {[]byte{0, 0, 8, 5}, "5 dimensions"},
		"short header":    {[]byte{0, 0, 8, 2, 0, 0}, "dimension 0"},
		"zero dimension":  {idxBytes([]uint32{0, 5}, nil), "dimension 0 is 0"},
		"huge dimensions": {idxBytes([]uint32{0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, []byte{1}), "at most"},
		"truncated body":  {idxBytes([]uint32{10, 10}, make([]byte, 99)), "truncated"},
		"trailing bytes":  {idxBytes([]uint32{2}, []byte{1, 2, 3}), "trailing"},
		"gzip corrupt":    {corrupt, "checksum"},
		"gzip truncated":  {gz(good)[:20], "unexpected EOF"},
	} {
		_, err := ReadIDX(bytes.NewReader(tc.data))
		assert.ErrorContains(t, err, tc.want, name)
	}
}

func TestReadIDXClaimsDoNotAllocate(t *testing.T) {
	// A 20-byte file claiming a 1.9 GB array must fail without reserving it.
	hostile := idxBytes([]uint32{30000, 250, 256}, []byte{1, 2, 3, 4})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadIDX(bytes.NewReader(hostile))
	runtime.ReadMemStats(&after)
	require.ErrorContains(t, err, "truncated")
	// The buffer starts at 4 MiB at most (the race detector doubles what
	// is counted); trusting the header would show 1.9 GB.
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20))
}

func TestGrayImagesAndMNISTStyle(t *testing.T) {
	dir := t.TempDir()
	pixels := make([]byte, 3*2*4)
	for i := range pixels {
		pixels[i] = byte(i * 10)
	}
	// Images gzipped, labels raw: MNISTStyle takes either.
	writeFile(t, filepath.Join(dir, "train-images-idx3-ubyte.gz"), gz(idxBytes([]uint32{3, 2, 4}, pixels)))
	writeFile(t, filepath.Join(dir, "train-labels-idx1-ubyte"), idxBytes([]uint32{3}, []byte{2, 0, 1}))
	ds, err := MNISTStyle(dir, true, []string{"a", "b", "c"})
	require.NoError(t, err)
	require.Equal(t, 3, ds.Len())
	assert.Equal(t, []int{2, 0, 1}, []int{ds.Label(0), ds.Label(1), ds.Label(2)})
	img, err := ds.Load(1)
	require.NoError(t, err)
	assert.Equal(t, 4, img.Bounds().Dx())
	assert.Equal(t, 2, img.Bounds().Dy())
	r, _, _, _ := img.At(3, 1).RGBA()
	assert.Equal(t, uint32(pixels[8+4+3])*0x101, r)

	_, err = MNISTStyle(dir, true, []string{"a", "b"})
	assert.ErrorContains(t, err, "label 2 of image 0")
	_, err = MNISTStyle(dir, false, MNISTClasses)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorContains(t, err, "neither")

	writeFile(t, filepath.Join(dir, "train-labels-idx1-ubyte"), idxBytes([]uint32{2}, []byte{2, 0}))
	_, err = MNISTStyle(dir, true, MNISTClasses)
	assert.ErrorContains(t, err, "3 images but 2 labels")
}

func TestFashionMNIST(t *testing.T) {
	if _, err := os.Stat(filepath.Join(FashionMNISTDir, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skip("Debian package dataset-fashion-mnist not installed")
	}
	for _, tc := range []struct {
		train bool
		n     int
	}{{true, 60000}, {false, 10000}} {
		ds, err := MNISTStyle(FashionMNISTDir, tc.train, FashionMNISTClasses)
		require.NoError(t, err)
		require.Equal(t, tc.n, ds.Len())
		counts := make([]int, 10)
		for i := range ds.Len() {
			counts[ds.Label(i)]++
		}
		for c, n := range counts {
			assert.Equal(t, tc.n/10, n, "Fashion-MNIST is balanced: class %d", c)
		}
		img, err := ds.Load(0)
		require.NoError(t, err)
		assert.Equal(t, 28, img.Bounds().Dx())
		assert.Equal(t, 28, img.Bounds().Dy())
	}
	ds, err := MNISTStyle(FashionMNISTDir, true, FashionMNISTClasses)
	require.NoError(t, err)
	assert.Equal(t, "Ankle boot", ds.ClassNames()[ds.Label(0)], "the first training image")
}
