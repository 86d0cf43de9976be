package data

import (
	"embed"
	"io/fs"
)

// mini holds the subset built by scripts/make_mini_imagenette.
//
//go:embed mini/imagenette
var mini embed.FS

// MiniImagenette returns a small real subset of Imagenette, embedded in the
// package: all ten classes, 100 train and 20 val images per class, resized to
// 64×64 JPEG, plus the matching rows of noisy_imagenette.csv (about 2.6 MB).
// It has the Imagenette layout, so ImagenetteFS and NoisyImagenetteFS read it.
// It is meant for examples and smoke tests that must run without downloads.
func MiniImagenette() fs.FS {
	sub, err := fs.Sub(mini, "mini/imagenette")
	if err != nil {
		panic(err) // the embedded path is fixed at build time
	}
	return sub
}
