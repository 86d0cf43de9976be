package data

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, pattern(w, h)))
	return buf.Bytes()
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(name), 0o755))
	require.NoError(t, os.WriteFile(name, data, 0o644))
}

func TestImageFolder(t *testing.T) {
	root := t.TempDir()
	jpg := encodeJPEG(t, pattern(8, 6))
	writeFile(t, filepath.Join(root, "zebra", "1.JPG"), jpg)
	writeFile(t, filepath.Join(root, "zebra", "2.Png"), pngBytes(t, 5, 5))
	writeFile(t, filepath.Join(root, "zebra", "notes.txt"), []byte("not an image"))
	writeFile(t, filepath.Join(root, "zebra", "nested", "3.jpg"), jpg) // not a class folder's direct child
	writeFile(t, filepath.Join(root, "apple", "a.jpeg"), jpg)
	writeFile(t, filepath.Join(root, "README"), []byte("top-level files are ignored"))

	ds, err := ImageFolder(root)
	require.NoError(t, err)
	assert.Equal(t, []string{"apple", "zebra"}, ds.ClassNames(), "sorted folder names")
	require.Equal(t, 3, ds.Len())
	assert.Equal(t, []string{"apple/a.jpeg", "zebra/1.JPG", "zebra/2.Png"}, []string{ds.Path(0), ds.Path(1), ds.Path(2)})
	assert.Equal(t, []int{0, 1, 1}, []int{ds.Label(0), ds.Label(1), ds.Label(2)})
	img, err := ds.Load(2)
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 5, 5), img.Bounds())

	// A corrupt file is an error naming it, with the root.
	writeFile(t, filepath.Join(root, "apple", "b.jpg"), []byte{0xFF, 0xD8, 0xFF, 0x00})
	ds, err = ImageFolder(root)
	require.NoError(t, err)
	_, err = ds.Load(1)
	var fe *FileError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, filepath.Join(root, "apple", "b.jpg"), fe.Path)
	assert.Contains(t, err.Error(), fe.Path)

	_, err = ImageFolder(t.TempDir())
	assert.ErrorContains(t, err, "no class folders")
	empty := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(empty, "cls"), 0o755))
	_, err = ImageFolder(empty)
	assert.ErrorContains(t, err, "no .jpg")
}

func TestImagenetteLayout(t *testing.T) {
	jpg := encodeJPEG(t, pattern(4, 4))
	fsys := fstest.MapFS{
		"train/n03888257/a.JPEG": {Data: jpg},
		"train/n01440764/b.JPEG": {Data: jpg},
		"train/n01440764/c.JPEG": {Data: jpg},
		"val/n03888257/d.JPEG":   {Data: jpg},
	}
	train, val, err := ImagenetteFS(fsys)
	require.NoError(t, err)
	assert.Equal(t, []string{"tench", "parachute"}, train.ClassNames())
	assert.Equal(t, []string{"n01440764", "n03888257"}, train.ClassIDs())
	assert.Equal(t, 3, train.Len())
	require.Equal(t, 1, val.Len())
	assert.Equal(t, 1, val.Label(0), "val labels follow the train class order")
	assert.True(t, HasImagenetteLayout(fsys))
	assert.False(t, HasImagenetteLayout(fstest.MapFS{"a/x.jpg": {Data: jpg}}))

	fsys["val/n99999999/e.JPEG"] = &fstest.MapFile{Data: jpg}
	_, _, err = ImagenetteFS(fsys)
	assert.ErrorContains(t, err, "n99999999")
	delete(fsys, "val/n99999999/e.JPEG")
	delete(fsys, "val/n03888257/d.JPEG")
	_, _, err = ImagenetteFS(fsys)
	assert.Error(t, err, "no val folder")
}

func TestMiniImagenette(t *testing.T) {
	train, val, err := ImagenetteFS(MiniImagenette())
	require.NoError(t, err)
	assert.Equal(t, 1000, train.Len())
	assert.Equal(t, 200, val.Len())
	assert.Equal(t, []string{"tench", "English springer", "cassette player", "chain saw", "church",
		"French horn", "garbage truck", "gas pump", "golf ball", "parachute"}, train.ClassNames())
	counts := make([]int, 10)
	for i := range val.Len() {
		counts[val.Label(i)]++
	}
	assert.Equal(t, []int{20, 20, 20, 20, 20, 20, 20, 20, 20, 20}, counts)
	gray := 0
	for i := range train.Len() {
		img, err := train.Load(i)
		require.NoError(t, err)
		require.Equal(t, image.Rect(0, 0, 64, 64), img.Bounds())
		if _, ok := img.(*image.Gray); ok {
			gray++
		}
	}
	assert.Positive(t, gray, "the subset keeps some of Imagenette's grayscale JPEGs")

	// The CSV gives the same split and, for the clean column, the same labels.
	ntrain, nval, err := NoisyImagenetteFS(MiniImagenette(), 0)
	require.NoError(t, err)
	require.Equal(t, train.Len(), ntrain.Len())
	require.Equal(t, val.Len(), nval.Len())
	byPath := map[string]int{}
	for i := range train.Len() {
		byPath[train.Path(i)] = train.Label(i)
	}
	for i := range ntrain.Len() {
		require.Equal(t, byPath[ntrain.Path(i)], ntrain.Label(i), ntrain.Path(i))
	}
	// At 50 % noise a good share of the training labels differ.
	noisy, _, err := NoisyImagenetteFS(MiniImagenette(), 50)
	require.NoError(t, err)
	changed := 0
	for i := range noisy.Len() {
		if noisy.Label(i) != byPath[noisy.Path(i)] {
			changed++
		}
	}
	assert.InDelta(t, 0.5*float64(noisy.Len()), float64(changed), 0.2*float64(noisy.Len()),
		"fastai's 50 %% column changes about half the labels")
}

const csvHeader = "path,noisy_labels_0,noisy_labels_1,noisy_labels_5,noisy_labels_25,noisy_labels_50,is_valid\n"

func TestNoisyCSV(t *testing.T) {
	jpg := encodeJPEG(t, pattern(4, 4))
	csv := csvHeader +
		"train/b/1.jpg,b,b,b,b,a,False\n" +
		"train/a/2.jpg,a,a,a,c,c,False\n" +
		"val/a/3.jpg,a,a,a,a,a,True\n"
	fsys := fstest.MapFS{
		"noisy_imagenette.csv": {Data: []byte(csv)},
		"train/b/1.jpg":        {Data: jpg},
		"train/a/2.jpg":        {Data: jpg},
		"val/a/3.jpg":          {Data: jpg},
	}
	train, val, err := NoisyImagenetteFS(fsys, 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, train.ClassNames())
	require.Equal(t, 2, train.Len())
	assert.Equal(t, []int{1, 0}, []int{train.Label(0), train.Label(1)})
	require.Equal(t, 1, val.Len())
	assert.Equal(t, "val/a/3.jpg", val.Path(0))
	_, err = train.Load(0)
	require.NoError(t, err)

	train, _, err = NoisyImagenetteFS(fsys, 25)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c"}, train.ClassNames(), "classes come from the chosen column")
	assert.Equal(t, []int{1, 2}, []int{train.Label(0), train.Label(1)})

	_, _, err = NoisyImagenetteFS(fsys, 3)
	assert.ErrorContains(t, err, "noise level 3")

	for name, tc := range map[string]struct{ csv, want string }{
		"short row":      {csvHeader + "train/a/1.jpg,a,a\nval/a/2.jpg,a,a,a,a,a,True\n", "wrong number of fields"},
		"bad is_valid":   {csvHeader + "train/a/1.jpg,a,a,a,a,a,maybe\n", `line 2: is_valid is "maybe"`},
		"escaping path":  {csvHeader + "../etc/passwd,a,a,a,a,a,False\n", "line 2: path"},
		"absolute path":  {csvHeader + "/etc/passwd,a,a,a,a,a,False\n", "line 2: path"},
		"empty label":    {csvHeader + "train/a/1.jpg,,a,a,a,a,False\n", "line 2: empty noisy_labels_0"},
		"missing column": {"path,is_valid\ntrain/a/1.jpg,False\n", `no column "noisy_labels_0"`},
		"no rows":        {csvHeader, "no rows"},
		"no val rows":    {csvHeader + "train/a/1.jpg,a,a,a,a,a,False\n", "val 0"},
		"empty file":     {"", "header"},
	} {
		_, _, err := NoisyImagenetteFS(fstest.MapFS{"noisy_imagenette.csv": {Data: []byte(tc.csv)}}, 0)
		assert.ErrorContains(t, err, tc.want, name)
	}
	_, _, err = NoisyImagenetteFS(fstest.MapFS{}, 0)
	assert.ErrorContains(t, err, "noisy_imagenette.csv")

	// On disk, errors name the folder.
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "noisy_imagewoof.csv"), []byte(csvHeader+"x.jpg,a,a,a,a,a,nope\n"))
	_, _, err = NoisyImagenette(root, 0)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), root) && strings.Contains(err.Error(), "noisy_imagewoof.csv"), err.Error())
	assert.False(t, errors.Is(err, os.ErrNotExist))
}
