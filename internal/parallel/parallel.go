package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// maxParts bounds how many ranges one For call splits its loop into. The
// bookkeeping of a call lives in a fixed array on the caller's stack, so
// that a call allocates nothing; machines with more cores than this still
// work, the loop is just not split further.
const maxParts = 128

// For calls fn on disjoint ranges [lo, hi) that together cover [0, n), on up
// to GOMAXPROCS goroutines. Ranges hold at least grain items so that tiny
// loops are not split into pieces that cost more to schedule than to run.
// fn must be safe to call concurrently on disjoint ranges.
//
// The ranges run on the calling goroutine and on parked workers of a pool
// that is started on first use and kept for the life of the process. A call
// allocates nothing beyond what fn itself allocates (pass a func value made
// once, such as a method value stored in a struct, rather than a fresh
// closure, or the closure is allocated per call). For may be called
// concurrently and from inside fn: when no worker is idle the caller runs
// the remaining ranges itself, so nested calls cannot deadlock.
//
// A panic in fn is re-raised on the calling goroutine once every range has
// finished.
func For(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	parts := min(runtime.GOMAXPROCS(0), maxParts)
	if most := n / grain; parts > most { // every range but the last holds at least grain
		parts = most
	}
	if parts <= 1 {
		fn(0, n)
		return
	}
	chunk := (n + parts - 1) / parts
	parts = (n + chunk - 1) / chunk
	// used[i] is the worker running range i, or nil when no worker was free
	// and the caller runs it.
	var used [maxParts]*worker
	for i := 1; i < parts; i++ {
		if w := pool.get(parts - 1); w != nil {
			w.work <- task{fn: fn, lo: i * chunk, hi: min((i+1)*chunk, n)}
			used[i] = w
		}
	}
	caught := runInline(fn, chunk, n, used[:parts])
	for _, w := range used[1:parts] {
		if w == nil {
			continue
		}
		if p := <-w.done; p != nil && caught == nil {
			caught = p
		}
		pool.put(w)
	}
	if caught != nil {
		panic(caught)
	}
}

// runInline runs the ranges of used that have no worker, range 0 among
// them, and returns what they panicked with: the caller must still wait
// for its workers before re-raising, or they would outlive the call.
func runInline(fn func(lo, hi int), chunk, n int, used []*worker) (caught any) {
	defer func() { caught = recover() }()
	for i, w := range used {
		if w == nil {
			fn(i*chunk, min((i+1)*chunk, n))
		}
	}
	return nil
}

// task is one range of a For call handed to a worker. It is sent by value,
// so handing out work allocates nothing.
type task struct {
	fn     func(lo, hi int)
	lo, hi int
}

// worker is one pooled goroutine. It owns its channels, so that the caller
// waits for exactly the workers it used without any per-call object.
type worker struct {
	work chan task
	done chan any // the recovered panic, or nil
}

func (w *worker) run() {
	for t := range w.work {
		w.done <- w.call(t)
	}
}

func (w *worker) call(t task) (caught any) {
	defer func() { caught = recover() }()
	t.fn(t.lo, t.hi)
	return nil
}

// workers is the pool behind For: idle workers wait in a buffered channel
// and new ones are started only while fewer than the call could use exist.
// It is an implementation detail with no state a caller can observe other
// than the goroutines it parks (as gonum's and the Go runtime's own worker
// pools do); the workers block on a channel receive and use no CPU when
// idle.
type workers struct {
	once    sync.Once
	idle    chan *worker
	started atomic.Int64
}

var pool workers

// get returns an idle worker, or a new one if fewer than limit exist, or
// nil: then the caller runs the range itself.
func (p *workers) get(limit int) *worker {
	p.once.Do(func() { p.idle = make(chan *worker, maxParts) })
	select {
	case w := <-p.idle:
		return w
	default:
	}
	for {
		s := p.started.Load()
		if s >= int64(min(limit, maxParts)) {
			return nil
		}
		if p.started.CompareAndSwap(s, s+1) {
			break
		}
	}
	w := &worker{work: make(chan task, 1), done: make(chan any, 1)}
	go w.run()
	return w
}

// put returns a worker to the idle set. The channel holds maxParts and at
// most maxParts workers are ever started, so put never blocks.
func (p *workers) put(w *worker) { p.idle <- w }
