package data

import (
	"encoding/json"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pattern returns a w×h RGBA image whose pixel values differ everywhere.
func pattern(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x*37 + y*91), uint8(x*37 + y*91 + 53), uint8(x*37 + y*91 + 106), 255})
		}
	}
	return img
}

func TestPillowResize(t *testing.T) {
	raw, err := os.ReadFile("testdata/pillow_resize.json")
	require.NoError(t, err)
	var ref struct {
		Width, Height int
		Cases         []struct {
			Filter string
			Box    [4]float64
			W, H   int
			Pixels []float32
		}
	}
	require.NoError(t, json.Unmarshal(raw, &ref))
	src := pattern(ref.Width, ref.Height)
	var s Scratch
	for _, c := range ref.Cases {
		in := Bilinear
		if c.Filter == "bicubic" {
			in = Bicubic
		}
		got := resample(&s, src, Box{c.Box[0], c.Box[1], c.Box[2], c.Box[3]}, c.W, c.H, 3, in)
		require.Len(t, got, len(c.Pixels))
		for i := range got {
			// Pillow rounds to 8 bits after each pass: 0.5 after the
			// vertical one plus 0.5 times the vertical weights' absolute
			// sum (under 1.25 for bicubic) after the horizontal one.
			require.InDelta(t, c.Pixels[i], got[i], 1.15, "%s box %v → %dx%d, value %d", c.Filter, c.Box, c.W, c.H, i)
		}
	}
}

func TestResampleAntialiases(t *testing.T) {
	// Columns repeat 255, 0, 0. Shrinking by 3 must average them (85);
	// point sampling at the output pixel centres would give 0 everywhere.
	src := image.NewGray(image.Rect(0, 0, 24, 3))
	for y := range 3 {
		for x := 0; x < 24; x += 3 {
			src.SetGray(x, y, color.Gray{255})
		}
	}
	got := resample(new(Scratch), src, Box{0, 0, 24, 3}, 8, 1, 1, Bilinear)
	for x := 1; x < 7; x++ { // edge pixels see a clipped filter
		assert.InDelta(t, 85, got[x], 1e-3, "x=%d", x) // float32 sums of ~6 weights
	}
}

func TestRandomResizedCropRect(t *testing.T) {
	scale, ratio := [2]float64{0.08, 1}, [2]float64{3.0 / 4, 4.0 / 3}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		w, h := 50+rng.IntN(400), 50+rng.IntN(400)
		r := RandomResizedCropRect(w, h, scale, ratio, rng)
		require.True(t, r.In(image.Rect(0, 0, w, h)), "crop %v outside %dx%d", r, w, h)
		require.False(t, r.Empty())
	}

	// Same generator state, same crop.
	a := RandomResizedCropRect(224, 224, scale, ratio, rand.New(rand.NewPCG(7, 7)))
	b := RandomResizedCropRect(224, 224, scale, ratio, rand.New(rand.NewPCG(7, 7)))
	assert.Equal(t, a, b)

	// In a big image the first draw always fits, so area fraction and
	// aspect ratio stay in range up to the rounding of the sides to pixels.
	for range 500 {
		r := RandomResizedCropRect(2000, 2000, scale, ratio, rng)
		area := float64(r.Dx()*r.Dy()) / (2000 * 2000)
		asp := float64(r.Dx()) / float64(r.Dy())
		assert.True(t, area > 0.08*0.99 && area < 1.01, "area fraction %v", area) // ±1 px per side of ≥565 px
		assert.True(t, asp > 0.75*0.99 && asp < 4.0/3*1.01, "aspect %v", asp)
	}
}

func TestRandomResizedCropFallback(t *testing.T) {
	// A scale range above 1 can never fit, so timm falls back to the largest
	// centred crop with the aspect ratio clamped into the ratio range.
	impossible := [2]float64{2, 3}
	ratio := [2]float64{3.0 / 4, 4.0 / 3}
	rng := rand.New(rand.NewPCG(1, 1))
	// Wide 300x100: width = round(100·4/3) = 133, x = (300-133)/2 = 83.
	assert.Equal(t, image.Rect(83, 0, 216, 100), RandomResizedCropRect(300, 100, impossible, ratio, rng))
	// Tall 100x300: height = round(100/0.75) = 133.
	assert.Equal(t, image.Rect(0, 83, 100, 216), RandomResizedCropRect(100, 300, impossible, ratio, rng))
	// Square: whole image.
	assert.Equal(t, image.Rect(0, 0, 90, 90), RandomResizedCropRect(90, 90, impossible, ratio, rng))
}

func TestCenterCropBox(t *testing.T) {
	// 224² at 64 px, crop 0.875: shorter side → floor(64/0.875) = 73, the
	// offset (73-64)/2 = 4.5 rounds to 4 (half to even), scale 224/73.
	s := 224.0 / 73
	assert.Equal(t, Box{4 * s, 4 * s, 68 * s, 68 * s}, CenterCropBox(224, 224, 64, 0.875))
	// 300x200 at 100 px, crop 1: resized to 150x100, crop x from 25.
	assert.Equal(t, Box{50, 0, 250, 200}, CenterCropBox(300, 200, 100, 1))
	// 200x300: the same turned on its side.
	assert.Equal(t, Box{0, 50, 200, 250}, CenterCropBox(200, 300, 100, 1))
	// 375x500 at 224 (timm eval of an Imagenette photo): shorter side 256,
	// long side int(256·500/375) = 341, offsets 16 and round(58.5) = 58.
	sx, sy := 375.0/256, 500.0/341
	assert.Equal(t, Box{16 * sx, 58 * sy, 240 * sx, 282 * sy}, CenterCropBox(375, 500, 224, 0.875))
}

// normalised applies (v/255 - mean)/std to one channel value.
func normalised(v uint8, ch int) float32 {
	return (float32(v)/255 - ImageNetMean[ch]) / ImageNetStd[ch]
}

func TestTransformIdentityAndNormalisation(t *testing.T) {
	src := pattern(6, 6)
	for _, in := range []Interpolation{Bilinear, Bicubic} {
		tf := EvalTransform(6)
		tf.CropPct, tf.Interp = 1, in
		dst := make([]float32, 6*6*3)
		require.NoError(t, tf.Apply(dst, src, nil, nil))
		for y := range 6 {
			for x := range 6 {
				p := src.RGBAAt(x, y)
				for ch, v := range []uint8{p.R, p.G, p.B} {
					// Both filters have weight exactly 1 at distance 0 and
					// 0 at other integers; what remains is float32 rounding
					// of the normalisation (values up to ~2.7).
					require.InDelta(t, normalised(v, ch), dst[(y*6+x)*3+ch], 1e-6, "%v (%d,%d,%d)", in, x, y, ch)
				}
			}
		}
	}
}

func TestFlip(t *testing.T) {
	src := pattern(5, 5)
	tf := TrainTransform(5)
	// Scale and ratio fixed at 1 make the crop the whole image, so the only
	// random choice left is the flip.
	tf.Scale, tf.Ratio = [2]float64{1, 1}, [2]float64{1, 1}
	plain, flipped := make([]float32, 75), make([]float32, 75)
	tf.FlipP = 0
	require.NoError(t, tf.Apply(plain, src, rand.New(rand.NewPCG(1, 1)), nil))
	tf.FlipP = 1
	require.NoError(t, tf.Apply(flipped, src, rand.New(rand.NewPCG(1, 1)), nil))
	for y := range 5 {
		for x := range 5 {
			p := src.RGBAAt(x, y)
			for ch, v := range []uint8{p.R, p.G, p.B} {
				require.InDelta(t, normalised(v, ch), plain[(y*5+x)*3+ch], 1e-6)
				require.Equal(t, plain[(y*5+x)*3+ch], flipped[(y*5+4-x)*3+ch], "pixel (%d,%d) ch %d", x, y, ch)
			}
		}
	}

	// With p = 0.5 about half of the draws flip.
	tf.FlipP = 0.5
	rng := rand.New(rand.NewPCG(3, 4))
	out := make([]float32, 75)
	flips := 0
	for range 1000 {
		require.NoError(t, tf.Apply(out, src, rng, nil))
		if out[0] == flipped[0] {
			flips++
		}
	}
	assert.InDelta(t, 500, flips, 80) // binomial sd ≈ 16; 5 sd
}

func TestTrainTransformDeterministic(t *testing.T) {
	src := pattern(40, 30)
	tf := TrainTransform(16)
	a, b, c := make([]float32, 16*16*3), make([]float32, 16*16*3), make([]float32, 16*16*3)
	var s Scratch
	require.NoError(t, tf.Apply(a, src, rand.New(rand.NewPCG(9, 9)), &s))
	require.NoError(t, tf.Apply(c, src, rand.New(rand.NewPCG(9, 10)), &s))
	require.NoError(t, tf.Apply(b, src, rand.New(rand.NewPCG(9, 9)), nil))
	assert.Equal(t, a, b, "same seed, fresh scratch")
	assert.NotEqual(t, a, c, "different seed")
	h, w, ch := tf.Shape()
	assert.Equal(t, [3]int{16, 16, 3}, [3]int{h, w, ch})
}

func TestTransformGrayOutput(t *testing.T) {
	// One channel: colour sources become ITU-R 601 luma.
	src := image.NewRGBA(image.Rect(0, 0, 2, 2))
	for i := range 4 {
		src.SetRGBA(i%2, i/2, color.RGBA{200, 100, 50, 255})
	}
	tf := &CenterCrop{Size: 2, CropPct: 1, Mean: []float32{0.5}, Std: []float32{0.25}}
	dst := make([]float32, 4)
	require.NoError(t, tf.Apply(dst, src, nil, nil))
	luma := (0.299*200 + 0.587*100 + 0.114*50) / 255
	for _, v := range dst {
		assert.InDelta(t, (luma-0.5)/0.25, v, 1e-5) // float32 of a value near 0.5
	}
}

func TestTransformErrors(t *testing.T) {
	src := pattern(8, 8)
	assert.ErrorContains(t, EvalTransform(4).Apply(make([]float32, 10), src, nil, nil), "holds 10 values")
	bad := TrainTransform(4)
	bad.Scale = [2]float64{0.5, 0.1}
	assert.ErrorContains(t, bad.Apply(make([]float32, 48), src, rand.New(rand.NewPCG(1, 1)), nil), "scale range")
	cc := EvalTransform(4)
	cc.CropPct = 1.5
	assert.ErrorContains(t, cc.Apply(make([]float32, 48), src, nil, nil), "crop fraction")
	cc = EvalTransform(4)
	cc.Mean = []float32{0, 0}
	assert.ErrorContains(t, cc.Apply(make([]float32, 48), src, nil, nil), "mean values")
	assert.Error(t, EvalTransform(4).Apply(make([]float32, 48), image.NewRGBA(image.Rect(0, 0, 0, 0)), nil, nil))
}
