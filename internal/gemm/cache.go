package gemm

import "sync"

// cache is a free list of records reused across calls: packing buffers
// and the bookkeeping of parallel calls. It is a cache only: every buffer
// is fully overwritten before it is read, so what it holds never changes a
// result.
//
// It replaces sync.Pool, whose per-processor queues allocated a node
// whenever records were taken on one processor and returned on another,
// as goroutines moving between processors do (about one allocation per
// B0 training step), and which a garbage collection empties. A free list
// holds at most as many records as calls ever used at once, a few per
// core, and allocates nothing once it has them.
type cache[E any] struct {
	mu   sync.Mutex
	free []*E
}

// get returns a cached record, or nil when none is free.
func (c *cache[E]) get() *E {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.free)
	if n == 0 {
		return nil
	}
	e := c.free[n-1]
	c.free[n-1] = nil
	c.free = c.free[:n-1]
	return e
}

// put caches e for a later get.
func (c *cache[E]) put(e *E) {
	c.mu.Lock()
	c.free = append(c.free, e)
	c.mu.Unlock()
}
