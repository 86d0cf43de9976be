package data

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
)

// ErrUnknownFormat is returned by Decode for data that is neither JPEG nor PNG.
var ErrUnknownFormat = errors.New("data: not a JPEG or PNG image")

var (
	jpegMagic = []byte{0xFF, 0xD8}
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
)

// Decode reads a JPEG or PNG image, recognised by its leading bytes rather
// than by file name, so a mislabelled extension still decodes.
//
// Colour models that the transforms read directly (*image.YCbCr,
// *image.Gray, *image.RGBA, *image.NRGBA) are returned as decoded; every
// other model (CMYK JPEGs, paletted and 16-bit PNGs, ...) is converted to
// *image.RGBA here, once, so that the transforms never fall back to a slow
// per-pixel interface call. Grayscale stays single-channel until a transform
// expands it to RGB.
//
// Decode calls image/jpeg and image/png directly instead of image.Decode, so it
// does not depend on which formats happen to be registered in the program.
func Decode(r io.Reader) (image.Image, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	head, err := br.Peek(8)
	if err != nil && len(head) < 2 {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("data: reading image header: %w", err)
	}
	var img image.Image
	switch {
	case bytes.HasPrefix(head, jpegMagic):
		img, err = jpeg.Decode(br)
	case bytes.HasPrefix(head, pngMagic):
		img, err = png.Decode(br)
	default:
		return nil, ErrUnknownFormat
	}
	if err != nil {
		return nil, err
	}
	return fastModel(img), nil
}

// fastModel converts img to *image.RGBA unless the transforms read its type
// directly.
func fastModel(img image.Image) image.Image {
	switch img.(type) {
	case *image.YCbCr, *image.Gray, *image.RGBA, *image.NRGBA:
		return img
	}
	b := img.Bounds()
	rgba := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Src)
	return rgba
}
