package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Batch is a batch of samples in the model's NHWC layout.
//
// A Batch handed out by Epoch.Next belongs to the loader and is reused: it is
// valid until the next call to Next or Close. Copy what must outlive that.
type Batch struct {
	N, H, W, C int
	Data       []float32 // N*H*W*C values, image n at Data[n*H*W*C:]
	Labels     []int     // N class indices
	Indices    []int     // N dataset indices the samples came from
}

// Shape returns [N, H, W, C], ready for tensor.FromData(b.Data, b.Shape()...).
func (b *Batch) Shape() []int { return []int{b.N, b.H, b.W, b.C} }

// LoaderConfig sets up a Loader. Zero values pick the defaults noted.
type LoaderConfig struct {
	BatchSize int    // required, > 0
	Workers   int    // decoding goroutines; 0 means GOMAXPROCS
	Prefetch  int    // batches decoded ahead of the consumer; 0 means 2
	Shuffle   bool   // a new order each epoch, from (Seed, epoch)
	DropLast  bool   // drop the final short batch
	Seed      uint64 // drives the order and every sample's augmentation
	SkipBad   bool   // skip unreadable images (counted in Epoch.Skipped) instead of failing
}

// Loader turns a Dataset and a Transform into batches, decoding on worker
// goroutines ahead of the consumer.
//
// The result is a function of (Seed, epoch) only: the sample order is a
// permutation drawn from (Seed, epoch) and each sample's augmentation uses a
// generator seeded from (Seed, epoch, dataset index), so any number of
// workers produces bit-identical batches.
type Loader struct {
	ds      Dataset
	tf      Transform
	cfg     LoaderConfig
	h, w    int
	c       int
	free    chan *Batch // recycled batch buffers, shared by successive epochs
	scratch []Scratch   // one per worker, kept across epochs
	busy    atomic.Bool
}

// NewLoader checks the configuration and allocates the batch buffers.
func NewLoader(ds Dataset, tf Transform, cfg LoaderConfig) (*Loader, error) {
	if cfg.BatchSize <= 0 {
		return nil, fmt.Errorf("data: batch size %d must be positive", cfg.BatchSize)
	}
	if cfg.Workers < 0 || cfg.Prefetch < 0 {
		return nil, fmt.Errorf("data: workers %d and prefetch %d must not be negative", cfg.Workers, cfg.Prefetch)
	}
	if ds.Len() == 0 {
		return nil, errors.New("data: empty dataset")
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Prefetch == 0 {
		cfg.Prefetch = 2
	}
	l := &Loader{ds: ds, tf: tf, cfg: cfg, scratch: make([]Scratch, cfg.Workers)}
	l.h, l.w, l.c = tf.Shape()
	if l.h <= 0 || l.w <= 0 || l.c <= 0 {
		return nil, fmt.Errorf("data: transform output shape %d×%d×%d is not positive", l.h, l.w, l.c)
	}
	// Every worker may hold one buffer while Prefetch finished batches wait;
	// that bounds memory and read-ahead.
	nbuf := cfg.Workers + cfg.Prefetch
	l.free = make(chan *Batch, nbuf)
	hwc := l.h * l.w * l.c
	for range nbuf {
		l.free <- &Batch{H: l.h, W: l.w, C: l.c,
			Data:    make([]float32, cfg.BatchSize*hwc),
			Labels:  make([]int, cfg.BatchSize),
			Indices: make([]int, cfg.BatchSize)}
	}
	return l, nil
}

// Len returns the number of batches in an epoch.
func (l *Loader) Len() int {
	n, b := l.ds.Len(), l.cfg.BatchSize
	if l.cfg.DropLast {
		return n / b
	}
	return (n + b - 1) / b
}

// Dataset returns the dataset the loader reads.
func (l *Loader) Dataset() Dataset { return l.ds }

// Order returns the dataset indices of epoch in the order the loader visits
// them: 0..Len-1, or a permutation drawn from (Seed, epoch) when shuffling.
func (l *Loader) Order(epoch int) []int {
	order := make([]int, l.ds.Len())
	for i := range order {
		order[i] = i
	}
	if l.cfg.Shuffle {
		rng := rand.New(rand.NewPCG(l.cfg.Seed, mix(0x6f72646572, uint64(epoch)))) // "order"
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	return order
}

// mix is SplitMix64's finaliser over a and b, used to derive well-spread
// seeds from small integers.
func mix(a, b uint64) uint64 {
	z := a*0x9e3779b97f4a7c15 + b
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// SampleRand returns the generator that augments sample index of epoch, so
// that callers outside the loader can reproduce a sample exactly.
func (l *Loader) SampleRand(epoch, index int) *rand.Rand {
	pcg := rand.NewPCG(0, 0)
	l.seedSample(pcg, epoch, index)
	return rand.New(pcg)
}

func (l *Loader) seedSample(pcg *rand.PCG, epoch, index int) {
	pcg.Seed(l.cfg.Seed, mix(uint64(epoch)+1, uint64(index)))
}

// Epoch starts decoding epoch (numbered from 0) and returns its iterator.
// Only one epoch of a Loader may be open at a time; Close it before the next.
// Cancelling ctx stops the workers; Next then reports ctx.Err().
func (l *Loader) Epoch(ctx context.Context, epoch int) (*Epoch, error) {
	if !l.busy.CompareAndSwap(false, true) {
		return nil, errors.New("data: previous epoch of this loader is still open")
	}
	ctx, cancel := context.WithCancel(ctx)
	e := &Epoch{
		l: l, epoch: epoch, ctx: ctx, cancel: cancel,
		order:   l.Order(epoch),
		nb:      l.Len(),
		results: make(chan result, cap(l.free)),
		pending: make([]result, cap(l.free)),
	}
	e.wg.Add(l.cfg.Workers)
	for w := range l.cfg.Workers {
		go e.work(&l.scratch[w])
	}
	return e, nil
}

// Epoch iterates over the batches of one epoch in order.
type Epoch struct {
	l      *Loader
	epoch  int
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	order  []int
	nb     int
	job    atomic.Int64 // next batch number to hand to a worker

	results chan result
	pending []result // finished batches by number mod len, awaiting their turn
	next    int      // batch number Next returns next
	cur     *Batch   // batch the caller holds
	err     error
	closed  bool

	mu      sync.Mutex
	skipped []skip
}

type result struct {
	k   int
	b   *Batch
	err error
}

type skip struct {
	index int
	err   error
}

// work fills batches until the epoch is done or cancelled. A worker takes a
// free buffer before it takes a batch number, so the lowest unfinished batch
// always has a buffer and the consumer never waits on a batch that cannot
// start: the reorder window is bounded by the buffer count.
func (e *Epoch) work(s *Scratch) {
	defer e.wg.Done()
	pcg := rand.NewPCG(0, 0)
	rng := rand.New(pcg)
	for {
		var b *Batch
		select {
		case b = <-e.l.free:
		case <-e.ctx.Done():
			return
		}
		k := int(e.job.Add(1) - 1)
		if k >= e.nb {
			e.l.free <- b
			return
		}
		err := e.fill(b, k, s, pcg, rng)
		e.results <- result{k, b, err} // never blocks: capacity is the buffer count
		if err != nil {
			return
		}
	}
}

func (e *Epoch) fill(b *Batch, k int, s *Scratch, pcg *rand.PCG, rng *rand.Rand) error {
	bs := e.l.cfg.BatchSize
	idx := e.order[k*bs : min((k+1)*bs, len(e.order))]
	hwc := b.H * b.W * b.C
	b.N = 0
	b.Data, b.Labels, b.Indices = b.Data[:cap(b.Data)], b.Labels[:cap(b.Labels)], b.Indices[:cap(b.Indices)]
	for _, i := range idx {
		if e.ctx.Err() != nil {
			return e.ctx.Err()
		}
		img, err := e.l.ds.Load(i)
		if err == nil {
			e.l.seedSample(pcg, e.epoch, i)
			err = e.l.tf.Apply(b.Data[b.N*hwc:(b.N+1)*hwc], img, rng, s)
			if err != nil {
				err = fmt.Errorf("data: sample %d: %w", i, err)
			}
		}
		if err != nil {
			if !e.l.cfg.SkipBad {
				return err
			}
			e.mu.Lock()
			e.skipped = append(e.skipped, skip{i, err})
			e.mu.Unlock()
			continue
		}
		b.Labels[b.N] = e.l.ds.Label(i)
		b.Indices[b.N] = i
		b.N++
	}
	return nil
}

// Next returns the next batch, or io.EOF after the last. The batch returned
// before is recycled, so it must no longer be used. With SkipBad a batch may
// hold fewer samples than BatchSize (a batch left empty is passed over).
// The first error ends the epoch; later calls repeat it.
func (e *Epoch) Next() (*Batch, error) {
	if e.cur != nil {
		e.l.free <- e.cur
		e.cur = nil
	}
	if e.err != nil {
		return nil, e.err
	}
	if e.closed {
		return nil, errors.New("data: Next on a closed epoch")
	}
	for e.next < e.nb {
		slot := &e.pending[e.next%len(e.pending)]
		for slot.b == nil {
			select {
			case r := <-e.results:
				e.pending[r.k%len(e.pending)] = r
			case <-e.ctx.Done():
				e.err = e.ctx.Err()
				return nil, e.err
			}
		}
		r := *slot
		*slot = result{}
		e.next++
		if r.err != nil {
			e.l.free <- r.b
			e.err = r.err
			e.cancel()
			return nil, e.err
		}
		if r.b.N == 0 {
			e.l.free <- r.b
			continue
		}
		e.cur = r.b
		e.trim(r.b)
		return r.b, nil
	}
	e.err = io.EOF
	return nil, io.EOF
}

// trim makes the slices of b exactly N samples long, within their capacity.
func (e *Epoch) trim(b *Batch) {
	hwc := b.H * b.W * b.C
	b.Data = b.Data[:b.N*hwc]
	b.Labels = b.Labels[:b.N]
	b.Indices = b.Indices[:b.N]
}

// Skipped returns the errors of the images skipped so far (with SkipBad),
// sorted by dataset index. Each error names its file.
func (e *Epoch) Skipped() []error {
	e.mu.Lock()
	s := slices.Clone(e.skipped)
	e.mu.Unlock()
	slices.SortFunc(s, func(a, b skip) int { return a.index - b.index })
	errs := make([]error, len(s))
	for i, v := range s {
		errs[i] = v.err
	}
	return errs
}

// Close stops the workers, waits for them to exit and returns every buffer
// to the loader, so the next epoch can start. It is safe to call twice.
func (e *Epoch) Close() error {
	if e.closed {
		return nil
	}
	e.closed = true
	e.cancel()
	e.wg.Wait()
	if e.cur != nil {
		e.l.free <- e.cur
		e.cur = nil
	}
	// Workers have exited; whatever they finished is in results or pending.
	for len(e.results) > 0 {
		e.l.free <- (<-e.results).b
	}
	for i := range e.pending {
		if e.pending[i].b != nil {
			e.l.free <- e.pending[i].b
			e.pending[i] = result{}
		}
	}
	e.l.busy.Store(false)
	return nil
}
