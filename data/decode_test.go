package data

import (
	"bytes"
	"image"
	"image/color"
	"image/color/palette"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func encodeJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}))
	return buf.Bytes()
}

func TestDecodeGrayJPEG(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i)
	}
	img, err := Decode(bytes.NewReader(encodeJPEG(t, gray)))
	require.NoError(t, err)
	require.IsType(t, &image.Gray{}, img, "grayscale JPEGs stay single-channel until transformed")

	// Through a transform it becomes RGB with three equal channels.
	tf := EvalTransform(16)
	tf.CropPct = 1
	tf.Mean, tf.Std = []float32{0, 0, 0}, []float32{1, 1, 1}
	dst := make([]float32, 16*16*3)
	require.NoError(t, tf.Apply(dst, img, nil, nil))
	for p := 0; p < len(dst); p += 3 {
		require.Equal(t, dst[p], dst[p+1])
		require.Equal(t, dst[p], dst[p+2])
		// JPEG at quality 95 of a smooth ramp stays within a few levels.
		require.InDelta(t, float32(gray.Pix[p/3])/255, dst[p], 4.0/255, "pixel %d", p/3)
	}
}

func TestDecodeColourJPEGAndPNG(t *testing.T) {
	src := pattern(8, 8)
	img, err := Decode(bytes.NewReader(encodeJPEG(t, src)))
	require.NoError(t, err)
	assert.IsType(t, &image.YCbCr{}, img)

	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, src))
	img, err = Decode(&buf)
	require.NoError(t, err)
	require.IsType(t, &image.RGBA{}, img) // opaque RGBA is written and read back as RGBA
	assert.Equal(t, src.Pix, img.(*image.RGBA).Pix, "PNG is lossless")
}

func TestDecodePalettedPNG(t *testing.T) {
	pal := image.NewPaletted(image.Rect(0, 0, 4, 4), palette.Plan9)
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i * 13)
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, pal))
	img, err := Decode(&buf)
	require.NoError(t, err)
	rgba, ok := img.(*image.RGBA)
	require.True(t, ok, "paletted images become RGBA, got %T", img)
	for y := range 4 {
		for x := range 4 {
			want := color.RGBAModel.Convert(pal.At(x, y)).(color.RGBA)
			require.Equal(t, want, rgba.RGBAAt(x, y))
		}
	}
}

func TestDecodeCMYKJPEG(t *testing.T) {
	// A real Adobe CMYK JPEG and its reference rendering as PNG (see
	// testdata/README.md): the decode must be RGB matching the reference.
	f, err := os.Open("testdata/cmyk.jpeg")
	require.NoError(t, err)
	defer f.Close()
	img, err := Decode(f)
	require.NoError(t, err)
	rgba, ok := img.(*image.RGBA)
	require.True(t, ok, "CMYK becomes RGBA, got %T", img)

	g, err := os.Open("testdata/cmyk.png")
	require.NoError(t, err)
	defer g.Close()
	want, err := png.Decode(g)
	require.NoError(t, err)
	require.Equal(t, want.Bounds(), rgba.Bounds())
	var sum, worst float64
	for y := range 103 {
		for x := range 150 {
			r, gg, b, _ := want.At(x, y).RGBA()
			got := rgba.RGBAAt(x, y)
			for i, w := range []uint32{r >> 8, gg >> 8, b >> 8} {
				d := math.Abs(float64(w) - float64([]uint8{got.R, got.G, got.B}[i]))
				sum += d
				worst = max(worst, d)
			}
		}
	}
	// The reference was rendered by another CMYK→RGB implementation; the
	// Go authors' own test allows small rounding differences.
	assert.Less(t, sum/(150*103*3), 0.5)
	assert.LessOrEqual(t, worst, 4.0)
}

func TestDecodeBadInput(t *testing.T) {
	_, err := Decode(bytes.NewReader([]byte("GIF89a......")))
	assert.ErrorIs(t, err, ErrUnknownFormat)
	_, err = Decode(bytes.NewReader(nil))
	assert.Error(t, err)
	full := encodeJPEG(t, pattern(32, 32))
	_, err = Decode(bytes.NewReader(full[:len(full)/2]))
	assert.Error(t, err, "truncated JPEG")
}
