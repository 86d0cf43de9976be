// Package parallel spreads loops over the available cores.
package parallel

import (
	"runtime"
	"sync"
)

// For calls fn on disjoint ranges [lo, hi) that together cover [0, n), on up
// to GOMAXPROCS goroutines. Ranges hold at least grain items so that tiny
// loops are not split into pieces that cost more to schedule than to run.
// fn must be safe to call concurrently on disjoint ranges.
func For(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	workers := runtime.GOMAXPROCS(0)
	if max := (n + grain - 1) / grain; workers > max {
		workers = max
	}
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, min(chunk, n))
	wg.Wait()
}
