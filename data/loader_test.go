package data

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// synth is an in-memory dataset of differently sized colour images; the
// indices in bad fail to load like corrupt files.
type synth struct {
	n   int
	bad map[int]bool
}

func (s *synth) Len() int             { return s.n }
func (s *synth) Label(i int) int      { return i % 3 }
func (s *synth) ClassNames() []string { return []string{"a", "b", "c"} }
func (s *synth) Load(i int) (image.Image, error) {
	if s.bad[i] {
		return nil, &FileError{Path: fmt.Sprintf("img%03d.jpg", i), Err: errors.New("corrupt")}
	}
	w, h := 20+i%7, 18+i%5
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(i), uint8(x * 9), uint8(y * 11), 255})
		}
	}
	return img, nil
}

type snapshot struct {
	data    []float32
	labels  []int
	indices []int
}

// collect runs one epoch and copies every batch out.
func collect(t *testing.T, l *Loader, epoch int) []snapshot {
	t.Helper()
	ep, err := l.Epoch(context.Background(), epoch)
	require.NoError(t, err)
	defer ep.Close()
	var out []snapshot
	for {
		b, err := ep.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		require.Len(t, b.Data, b.N*b.H*b.W*b.C)
		out = append(out, snapshot{slices.Clone(b.Data), slices.Clone(b.Labels), slices.Clone(b.Indices)})
	}
}

func TestLoaderDeterministicAcrossWorkers(t *testing.T) {
	ds := &synth{n: 37}
	run := func(workers int) [][]snapshot {
		l, err := NewLoader(ds, TrainTransform(12), LoaderConfig{BatchSize: 8, Workers: workers, Shuffle: true, Seed: 42})
		require.NoError(t, err)
		return [][]snapshot{collect(t, l, 0), collect(t, l, 1)}
	}
	one, three := run(1), run(3)
	require.Equal(t, one, three, "1 and 3 workers give bit-identical batches")

	for e, epoch := range one {
		require.Len(t, epoch, 5) // ceil(37/8)
		assert.Equal(t, 5, len(epoch[4].labels), "last batch holds the remaining 37-32")
		var seen []int
		for _, b := range epoch {
			for j, i := range b.indices {
				assert.Equal(t, ds.Label(i), b.labels[j])
			}
			seen = append(seen, b.indices...)
		}
		slices.Sort(seen)
		for i := range 37 {
			require.Equal(t, i, seen[i], "epoch %d visits every sample once", e)
		}
	}
	assert.NotEqual(t, one[0][0].indices, one[1][0].indices, "each epoch has its own order")
	assert.NotEqual(t, one[0][0].indices, []int{0, 1, 2, 3, 4, 5, 6, 7}, "shuffled")

	// A different seed gives different augmentation of the same samples.
	l, err := NewLoader(ds, TrainTransform(12), LoaderConfig{BatchSize: 8, Workers: 2, Seed: 43, Shuffle: true})
	require.NoError(t, err)
	assert.NotEqual(t, one[0], collect(t, l, 0))
}

func TestLoaderSampleReproducible(t *testing.T) {
	// A batch sample equals the transform applied with SampleRand, so a
	// caller can reproduce or inspect any sample outside the loader.
	ds := &synth{n: 10}
	tf := TrainTransform(10)
	l, err := NewLoader(ds, tf, LoaderConfig{BatchSize: 4, Workers: 2, Shuffle: true, Seed: 5})
	require.NoError(t, err)
	batches := collect(t, l, 3)
	b := batches[1]
	img, err := ds.Load(b.indices[2])
	require.NoError(t, err)
	want := make([]float32, 10*10*3)
	require.NoError(t, tf.Apply(want, img, l.SampleRand(3, b.indices[2]), nil))
	assert.Equal(t, want, b.data[2*300:3*300])
	assert.Equal(t, l.Order(3)[4:8], b.indices)
}

func TestLoaderEvalOrderAndDropLast(t *testing.T) {
	ds := &synth{n: 10}
	l, err := NewLoader(ds, EvalTransform(8), LoaderConfig{BatchSize: 4, DropLast: true})
	require.NoError(t, err)
	assert.Equal(t, 2, l.Len())
	batches := collect(t, l, 0)
	require.Len(t, batches, 2)
	assert.Equal(t, []int{0, 1, 2, 3}, batches[0].indices)
	assert.Equal(t, []int{4, 5, 6, 7}, batches[1].indices)
	again := collect(t, l, 7)
	assert.Equal(t, batches, again, "without shuffling or randomness every epoch is the same")
}

func TestLoaderBadFiles(t *testing.T) {
	ds := &synth{n: 20, bad: map[int]bool{3: true, 11: true}}
	l, err := NewLoader(ds, EvalTransform(8), LoaderConfig{BatchSize: 4, Workers: 2})
	require.NoError(t, err)
	ep, err := l.Epoch(context.Background(), 0)
	require.NoError(t, err)
	_, err = ep.Next()
	require.ErrorContains(t, err, "img003.jpg")
	var fe *FileError
	assert.ErrorAs(t, err, &fe)
	_, again := ep.Next()
	assert.Equal(t, err, again, "the error ends the epoch")
	require.NoError(t, ep.Close())

	l, err = NewLoader(ds, EvalTransform(8), LoaderConfig{BatchSize: 4, Workers: 3, SkipBad: true})
	require.NoError(t, err)
	ep, err = l.Epoch(context.Background(), 0)
	require.NoError(t, err)
	var got []int
	var sizes []int
	for {
		b, err := ep.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		got = append(got, b.Indices...)
		sizes = append(sizes, b.N)
	}
	skipped := ep.Skipped()
	require.NoError(t, ep.Close())
	assert.Equal(t, []int{3, 4, 3, 4, 4}, sizes, "batches with a bad file are one short")
	assert.Len(t, got, 18)
	assert.NotContains(t, got, 3)
	require.Len(t, skipped, 2)
	assert.ErrorContains(t, skipped[0], "img003.jpg")
	assert.ErrorContains(t, skipped[1], "img011.jpg")

	// A batch of nothing but bad files is passed over.
	ds = &synth{n: 8, bad: map[int]bool{4: true, 5: true, 6: true, 7: true}}
	l, err = NewLoader(ds, EvalTransform(8), LoaderConfig{BatchSize: 4, SkipBad: true})
	require.NoError(t, err)
	assert.Len(t, collect(t, l, 0), 1)
}

// slow delays every Load so that an epoch is still running when cancelled.
type slow struct{ synth }

func (s *slow) Load(i int) (image.Image, error) {
	time.Sleep(2 * time.Millisecond)
	return s.synth.Load(i)
}

func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), want, "worker goroutines leaked")
}

func TestLoaderCancelAndClose(t *testing.T) {
	base := runtime.NumGoroutine()
	ds := &slow{synth{n: 200}}
	l, err := NewLoader(ds, EvalTransform(8), LoaderConfig{BatchSize: 4, Workers: 3})
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	ep, err := l.Epoch(ctx, 0)
	require.NoError(t, err)
	_, err = ep.Next()
	require.NoError(t, err)
	_, err2 := l.Epoch(context.Background(), 1)
	assert.ErrorContains(t, err2, "still open")
	cancel()
	for err == nil {
		_, err = ep.Next()
	}
	assert.ErrorIs(t, err, context.Canceled)
	require.NoError(t, ep.Close())
	require.NoError(t, ep.Close(), "Close twice is harmless")
	waitGoroutines(t, base)
	assert.Equal(t, cap(l.free), len(l.free), "every buffer is back in the pool")

	// Stopping early with Close also frees everything, and the loader is
	// ready for the next epoch.
	ep, err = l.Epoch(context.Background(), 1)
	require.NoError(t, err)
	_, err = ep.Next()
	require.NoError(t, err)
	require.NoError(t, ep.Close())
	_, err = ep.Next()
	assert.Error(t, err)
	waitGoroutines(t, base)
	assert.Equal(t, cap(l.free), len(l.free))
	ep, err = l.Epoch(context.Background(), 2)
	require.NoError(t, err)
	require.NoError(t, ep.Close())
}

func TestLoaderReusesBuffers(t *testing.T) {
	// GrayImages hands out views without decoding, so what the loader
	// itself allocates is visible: per epoch, the order, the goroutines and
	// small bookkeeping, never a batch's worth of floats.
	const n, size = 64, 28
	pix := make([]uint8, n*size*size)
	labels := make([]uint8, n)
	ds, err := NewGrayImages(&IDXArray{Dims: []int{n, size, size}, Data: pix}, &IDXArray{Dims: []int{n}, Data: labels}, MNISTClasses)
	require.NoError(t, err)
	tf := TrainTransform(size)
	tf.Mean, tf.Std = []float32{0.5}, []float32{0.5}
	l, err := NewLoader(ds, tf, LoaderConfig{BatchSize: 16, Workers: 2, Shuffle: true})
	require.NoError(t, err)
	collect(t, l, 0) // warm the workers' scratch buffers

	batchBytes := uint64(16 * size * size * 4)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ep, err := l.Epoch(context.Background(), 1)
	require.NoError(t, err)
	batches := 0
	for {
		_, err := ep.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		batches++
	}
	require.NoError(t, ep.Close())
	runtime.ReadMemStats(&after)
	require.Equal(t, 4, batches)
	// Goroutines, the order and the reorder window are a few KB; a loader
	// that allocated batches would add 4 × 50 KB here.
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, batchBytes, "allocated per epoch")
}

func TestLoaderConfigErrors(t *testing.T) {
	ds := &synth{n: 3}
	_, err := NewLoader(ds, EvalTransform(8), LoaderConfig{})
	assert.ErrorContains(t, err, "batch size")
	_, err = NewLoader(ds, EvalTransform(8), LoaderConfig{BatchSize: 2, Workers: -1})
	assert.ErrorContains(t, err, "negative")
	_, err = NewLoader(&synth{}, EvalTransform(8), LoaderConfig{BatchSize: 2})
	assert.ErrorContains(t, err, "empty dataset")
	_, err = NewLoader(ds, EvalTransform(0), LoaderConfig{BatchSize: 2})
	assert.ErrorContains(t, err, "not positive")
}

// BenchmarkLoaderMini measures decode + augmentation throughput on the
// embedded 64 px JPEGs (images/s is reported).
func BenchmarkLoaderMini(b *testing.B) {
	train, _, err := ImagenetteFS(MiniImagenette())
	require.NoError(b, err)
	l, err := NewLoader(train, TrainTransform(64), LoaderConfig{BatchSize: 50, Shuffle: true})
	require.NoError(b, err)
	b.ResetTimer()
	images := 0
	for i := range b.N {
		ep, err := l.Epoch(context.Background(), i)
		require.NoError(b, err)
		for {
			batch, err := ep.Next()
			if err == io.EOF {
				break
			}
			require.NoError(b, err)
			images += batch.N
		}
		ep.Close()
	}
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
}
