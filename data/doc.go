// Package data reads image datasets and turns them into batches for training
// and evaluation.
//
// # Datasets
//
// A Dataset is anything with Len, Label, Load and ClassNames. The readers
// cover the layouts EfficientNet work meets in practice:
//
//   - ImageFolder: root/<class>/*.{jpg,jpeg,png}, classes numbered in sorted
//     folder order as torchvision numbers them.
//   - Imagenette: fastai's train/ and val/ folders of WordNet ids, with human
//     class names; NoisyImagenette: the same files split and labelled by
//     noisy_imagenette.csv, any of its label-noise columns.
//   - MNISTStyle / ReadIDX: the IDX files of MNIST and Fashion-MNIST, gzipped
//     or not, held in memory as GrayImages.
//   - MiniImagenette: a 1,200-image subset embedded in the package.
//
// Downloader fetches the official Imagenette and Imagewoof archives into a
// cache folder, verifying size, checksum and archive paths.
//
// # Transforms
//
// TrainTransform (RandomResizedCrop + flip) and EvalTransform (resize shorter
// side to size/0.875, centre crop) follow timm's conventions, including its
// rounding, so that numbers are comparable with PyTorch training recipes.
// Resampling is done here rather than with an image library: it filters the
// way Pillow does (antialiased when shrinking), works from a crop box in one
// pass, and writes normalised float32 straight into the batch using
// reusable Scratch memory, so augmentation does not allocate per image.
//
// Every transform takes an explicit *rand.Rand. Nothing in the package draws
// from a global generator, which is what makes loading reproducible.
//
// # Loading
//
// A Loader runs the transform on worker goroutines that decode ahead of the
// training loop into a fixed pool of reused batch buffers (Workers +
// Prefetch of them), and hands batches out in order. The epoch's order comes
// from (Seed, epoch) and each sample's augmentation from (Seed, epoch,
// index), so the batches are bit-identical for any number of workers and a
// resumed run sees exactly the data it would have seen.
//
// Batches are NHWC float32, the layout of the model's activations.
package data
