package data

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// Interpolation selects the resampling filter. Both are applied the way
// Pillow's resize does (the reference for torchvision and timm): separable,
// sampled at pixel centres, with the filter widened by the scale factor when
// shrinking so that downscaling averages instead of aliasing.
type Interpolation int

const (
	// Bilinear is the triangle filter, support 1 (timm's "bilinear").
	Bilinear Interpolation = iota
	// Bicubic is the Keys cubic with a = -0.5, support 2 (timm's "bicubic",
	// the default of its EfficientNet configurations).
	Bicubic
)

func (in Interpolation) String() string {
	switch in {
	case Bilinear:
		return "bilinear"
	case Bicubic:
		return "bicubic"
	}
	return fmt.Sprintf("Interpolation(%d)", int(in))
}

func (in Interpolation) support() float64 {
	if in == Bicubic {
		return 2
	}
	return 1
}

func (in Interpolation) weight(x float64) float64 {
	x = math.Abs(x)
	if in == Bicubic {
		const a = -0.5
		switch {
		case x < 1:
			return ((a+2)*x-(a+3))*x*x + 1
		case x < 2:
			return (((x-5)*x+8)*x - 4) * a
		}
		return 0
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// Box is a rectangle in continuous source-pixel coordinates: pixel (x, y)
// covers [x, x+1) × [y, y+1). Crops are boxes rather than image.Rectangles
// because the evaluation crop of timm lands on fractional source positions.
type Box struct{ X0, Y0, X1, Y1 float64 }

// Scratch is reusable working memory for the transforms. The zero value is
// ready to use; one Scratch must not be used by two goroutines at once.
// Reusing it keeps steady-state augmentation free of large allocations.
type Scratch struct {
	region []float32 // source pixels under the filter footprint, HWC, 0..255
	rows   []float32 // after the horizontal pass
	out    []float32 // after the vertical pass, before normalisation
	x, y   taps
}

// taps holds, for each output pixel along one axis, the first source pixel
// and k weights (zero padded), Pillow's precompute_coeffs.
type taps struct {
	first []int
	n     []int // non-zero span of each row of w
	w     []float32
	k     int
}

func (t *taps) compute(in Interpolation, b0, b1 float64, inSize, outSize int) (lo, hi int) {
	scale := (b1 - b0) / float64(outSize)
	filterScale := max(scale, 1)
	support := in.support() * filterScale
	t.k = int(math.Ceil(support))*2 + 1
	t.first = grow(t.first, outSize)
	t.n = grow(t.n, outSize)
	t.w = grow(t.w, outSize*t.k)
	lo, hi = inSize, 0
	for o := range outSize {
		center := b0 + (float64(o)+0.5)*scale
		x0 := max(int(math.Floor(center-support+0.5)), 0)
		x1 := min(int(math.Floor(center+support+0.5)), inSize)
		w := t.w[o*t.k : (o+1)*t.k]
		clear(w)
		var sum float64
		for i := x0; i < x1; i++ {
			v := in.weight((float64(i) - center + 0.5) / filterScale)
			w[i-x0] = float32(v)
			sum += v
		}
		if sum != 0 {
			for i := range w {
				w[i] = float32(float64(w[i]) / sum)
			}
		}
		t.first[o] = x0
		t.n[o] = max(x1-x0, 0)
		lo, hi = min(lo, x0), max(hi, x1)
	}
	return lo, hi
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// resample resizes the box of src to ow×oh with c channels (3: RGB, 1: luma)
// and returns the result, HWC in 0..255, held in s.out.
func resample(s *Scratch, src image.Image, box Box, ow, oh, c int, in Interpolation) []float32 {
	b := src.Bounds()
	xlo, xhi := s.x.compute(in, box.X0, box.X1, b.Dx(), ow)
	ylo, yhi := s.y.compute(in, box.Y0, box.Y1, b.Dy(), oh)
	rw, rh := xhi-xlo, yhi-ylo
	s.region = grow(s.region, rw*rh*c)
	toFloat(s.region, src, image.Rect(xlo, ylo, xhi, yhi).Add(b.Min), c)

	// Horizontal pass over every region row. Both passes clamp to the 8-bit
	// range, as Pillow does, so bicubic overshoot matches it.
	s.rows = grow(s.rows, rh*ow*c)
	kx := s.x.k
	for y := range rh {
		src := s.region[y*rw*c : (y+1)*rw*c]
		dst := s.rows[y*ow*c : (y+1)*ow*c]
		for x := range ow {
			w := s.x.w[x*kx : x*kx+s.x.n[x]]
			p := src[(s.x.first[x]-xlo)*c:]
			if c == 3 {
				// One sweep over the taps for all three channels.
				p = p[:3*len(w)]
				var r, g, b float32
				for k, wk := range w {
					r += wk * p[3*k]
					g += wk * p[3*k+1]
					b += wk * p[3*k+2]
				}
				dst[3*x] = min(max(r, 0), 255)
				dst[3*x+1] = min(max(g, 0), 255)
				dst[3*x+2] = min(max(b, 0), 255)
				continue
			}
			var acc float32
			for k, wk := range w {
				acc += wk * p[k]
			}
			dst[x] = min(max(acc, 0), 255)
		}
	}

	// Vertical pass.
	s.out = grow(s.out, oh*ow*c)
	ky := s.y.k
	row := ow * c
	for y := range oh {
		w := s.y.w[y*ky : y*ky+s.y.n[y]]
		base := (s.y.first[y] - ylo) * row
		dst := s.out[y*row : (y+1)*row]
		clear(dst)
		for k, wk := range w {
			src := s.rows[base+k*row : base+(k+1)*row]
			for i, v := range src {
				dst[i] += wk * v
			}
		}
		for i, v := range dst {
			dst[i] = min(max(v, 0), 255)
		}
	}
	return s.out
}

// toFloat writes the pixels of r (in src coordinates) into dst as HWC
// float32 in 0..255 with c channels: 3 gives RGB (grey is replicated, alpha is
// dropped as Pillow's convert("RGB") does), 1 gives ITU-R 601 luma.
func toFloat(dst []float32, src image.Image, r image.Rectangle, c int) {
	w := r.Dx()
	i := 0
	put := func(R, G, B uint8) {
		if c == 1 {
			dst[i] = (299*float32(R) + 587*float32(G) + 114*float32(B)) / 1000
			i++
			return
		}
		dst[i], dst[i+1], dst[i+2] = float32(R), float32(G), float32(B)
		i += 3
	}
	switch m := src.(type) {
	case *image.Gray:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			off := m.PixOffset(r.Min.X, y)
			for _, v := range m.Pix[off : off+w] {
				if c == 1 {
					dst[i] = float32(v)
					i++
				} else {
					put(v, v, v)
				}
			}
		}
	case *image.YCbCr:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				yi, ci := m.YOffset(x, y), m.COffset(x, y)
				if c == 1 {
					dst[i] = float32(m.Y[yi])
					i++
					continue
				}
				R, G, B := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				dst[i], dst[i+1], dst[i+2] = float32(R), float32(G), float32(B)
				i += 3
			}
		}
	case *image.RGBA:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			p := m.Pix[m.PixOffset(r.Min.X, y):]
			for x := range w {
				put(p[4*x], p[4*x+1], p[4*x+2])
			}
		}
	case *image.NRGBA:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			p := m.Pix[m.PixOffset(r.Min.X, y):]
			for x := range w {
				put(p[4*x], p[4*x+1], p[4*x+2])
			}
		}
	default:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				rgba := color.RGBAModel.Convert(src.At(x, y)).(color.RGBA)
				put(rgba.R, rgba.G, rgba.B)
			}
		}
	}
}
