// Command make_mini_imagenette builds the small Imagenette subset that the
// data package embeds (data/mini/imagenette), from a full Imagenette copy.
//
// It keeps all ten classes, picks a fixed pseudo-random sample of train and
// val images per class (seeded, so re-running gives the same files), resizes
// each to size×size and re-encodes it as JPEG. Grayscale originals stay
// grayscale. It also writes the matching rows of noisy_imagenette.csv, so
// the subset has the same layout as the official archive.
//
// Usage (from the module root):
//
//	go run ./scripts/make_mini_imagenette -src ../shared/data/imagenette2-224
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/image/draw"
)

func main() {
	src := flag.String("src", "../shared/data/imagenette2-224", "Imagenette copy to sample from")
	dst := flag.String("dst", "data/mini/imagenette", "output folder (replaced)")
	nTrain := flag.Int("train", 100, "train images per class")
	nVal := flag.Int("val", 20, "val images per class")
	size := flag.Int("size", 64, "output side in pixels")
	quality := flag.Int("quality", 85, "JPEG quality")
	seed := flag.Uint64("seed", 1, "sampling seed")
	flag.Parse()
	if err := run(*src, *dst, *nTrain, *nVal, *size, *quality, *seed); err != nil {
		log.Fatal(err)
	}
}

func run(src, dst string, nTrain, nVal, size, quality int, seed uint64) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	keep := map[string]bool{} // CSV paths written
	var total int64
	var count int
	for si, split := range []struct {
		name string
		n    int
	}{{"train", nTrain}, {"val", nVal}} {
		classes, err := os.ReadDir(filepath.Join(src, split.name))
		if err != nil {
			return err
		}
		for ci, c := range classes {
			if !c.IsDir() {
				continue
			}
			files, err := filepath.Glob(filepath.Join(src, split.name, c.Name(), "*.JPEG"))
			if err != nil {
				return err
			}
			slices.Sort(files)
			rng := rand.New(rand.NewPCG(seed, uint64(si<<16|ci)))
			rng.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
			if len(files) < split.n {
				return fmt.Errorf("%s/%s has %d images, want %d", split.name, c.Name(), len(files), split.n)
			}
			pick := files[:split.n]
			slices.Sort(pick)
			for _, f := range pick {
				rel := filepath.ToSlash(filepath.Join(split.name, c.Name(), filepath.Base(f)))
				n, err := convert(f, filepath.Join(dst, rel), size, quality)
				if err != nil {
					return err
				}
				keep[rel] = true
				total += n
				count++
			}
		}
	}
	csvBytes, err := filterCSV(filepath.Join(src, "noisy_imagenette.csv"), filepath.Join(dst, "noisy_imagenette.csv"), keep)
	if err != nil {
		return err
	}
	fmt.Printf("%d images, %d bytes of JPEG, %d bytes of CSV in %s\n", count, total, csvBytes, dst)
	return nil
}

// convert resizes the image at from to size×size with Catmull-Rom (a one-off
// job, so the best-looking filter) and writes it as JPEG.
func convert(from, to string, size, quality int) (int64, error) {
	in, err := os.Open(from)
	if err != nil {
		return 0, err
	}
	img, err := jpeg.Decode(in)
	in.Close()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", from, err)
	}
	var out draw.Image = image.NewRGBA(image.Rect(0, 0, size, size))
	if _, gray := img.(*image.Gray); gray {
		out = image.NewGray(image.Rect(0, 0, size, size))
	}
	draw.CatmullRom.Scale(out, out.Bounds(), img, img.Bounds(), draw.Src, nil)
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(to)
	if err != nil {
		return 0, err
	}
	if err := jpeg.Encode(f, out, &jpeg.Options{Quality: quality}); err != nil {
		f.Close()
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, err
	}
	return st.Size(), f.Close()
}

// filterCSV copies the header and the rows whose path is in keep.
func filterCSV(from, to string, keep map[string]bool) (int64, error) {
	in, err := os.Open(from)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	rows, err := csv.NewReader(in).ReadAll()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", from, err)
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	for i, r := range rows {
		if i == 0 || keep[r[0]] {
			if err := w.Write(r); err != nil {
				return 0, err
			}
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return 0, err
	}
	if err := os.WriteFile(to, []byte(b.String()), 0o644); err != nil {
		return 0, err
	}
	return int64(b.Len()), nil
}
