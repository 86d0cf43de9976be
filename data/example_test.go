package data_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/effnet-go/effnet/data"
)

// Read the embedded mini-Imagenette the way a full Imagenette folder is read.
func ExampleImagenetteFS() {
	train, val, err := data.ImagenetteFS(data.MiniImagenette())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(train.Len(), "train,", val.Len(), "val")
	fmt.Println(train.ClassIDs()[0], "=", train.ClassNames()[0])
	fmt.Println(val.Path(0), "is a", val.ClassNames()[val.Label(0)])
	// Output:
	// 1000 train, 200 val
	// n01440764 = tench
	// val/n01440764/ILSVRC2012_val_00017472.JPEG is a tench
}

// A training epoch: shuffled, augmented batches in NHWC layout, decoded on
// worker goroutines. The batch is reused by the next call to Next.
func ExampleLoader() {
	train, _, err := data.ImagenetteFS(data.MiniImagenette())
	if err != nil {
		log.Fatal(err)
	}
	loader, err := data.NewLoader(train, data.TrainTransform(64), data.LoaderConfig{
		BatchSize: 32, Shuffle: true, Seed: 1,
	})
	if err != nil {
		log.Fatal(err)
	}
	for epoch := range 2 {
		ep, err := loader.Epoch(context.Background(), epoch)
		if err != nil {
			log.Fatal(err)
		}
		images := 0
		for {
			b, err := ep.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				log.Fatal(err)
			}
			if images == 0 && epoch == 0 {
				fmt.Println("batch shape", b.Shape())
			}
			images += b.N // a training step would run on b.Data and b.Labels here
		}
		ep.Close()
		fmt.Println("epoch", epoch, images, "images in", loader.Len(), "batches")
	}
	// Output:
	// batch shape [32 64 64 3]
	// epoch 0 1000 images in 32 batches
	// epoch 1 1000 images in 32 batches
}

// The evaluation transform of timm: resize the shorter side to size/0.875
// and take the central square.
func ExampleCenterCropBox() {
	fmt.Printf("%.1f\n", data.CenterCropBox(500, 375, 224, data.DefaultCropPct))
	// Output:
	// {85.0 23.4 413.5 351.6}
}

// One augmented sample; the generator makes it reproducible.
func ExampleRandomResizedCrop() {
	train, _, err := data.ImagenetteFS(data.MiniImagenette())
	if err != nil {
		log.Fatal(err)
	}
	img, err := train.Load(0)
	if err != nil {
		log.Fatal(err)
	}
	tf := data.TrainTransform(32)
	h, w, c := tf.Shape()
	a, b := make([]float32, h*w*c), make([]float32, h*w*c)
	tf.Apply(a, img, rand.New(rand.NewPCG(1, 2)), nil)
	tf.Apply(b, img, rand.New(rand.NewPCG(1, 2)), nil)
	fmt.Println(len(a), a[0] == b[0] && a[len(a)-1] == b[len(b)-1])
	// Output:
	// 3072 true
}

// Fashion-MNIST from Debian's dataset-fashion-mnist package, one channel.
func ExampleMNISTStyle() {
	test, err := data.MNISTStyle(data.FashionMNISTDir, false, data.FashionMNISTClasses)
	if err != nil {
		log.Fatal(err)
	}
	tf := &data.CenterCrop{Size: 28, CropPct: 1, Mean: []float32{0.2860}, Std: []float32{0.3530}}
	loader, err := data.NewLoader(test, tf, data.LoaderConfig{BatchSize: 256})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(test.Len(), "images,", loader.Len(), "batches")
}

// Fetch imagenette2-160 into a cache folder, with a progress bar.
func ExampleDownloader() {
	d := &data.Downloader{CacheDir: filepath.Join(os.TempDir(), "effnet-data"), Progress: os.Stderr}
	dir, err := d.Fetch(context.Background(), "imagenette2-160")
	if err != nil {
		log.Fatal(err) // without network: "cannot reach s3.amazonaws.com: no network or host unreachable ..."
	}
	train, val, err := data.Imagenette(dir)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(train.Len(), val.Len())
}
