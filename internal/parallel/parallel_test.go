package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cover runs For and checks that the ranges are disjoint, cover [0, n)
// exactly once, hold at least grain items (but for a shorter last one) and
// that no more than GOMAXPROCS of them run at once.
func cover(t *testing.T, n, grain int) {
	t.Helper()
	hits := make([]atomic.Int32, max(n, 0))
	var running, most, short atomic.Int32
	For(n, grain, func(lo, hi int) {
		r := running.Add(1)
		for m := most.Load(); r > m && !most.CompareAndSwap(m, r); m = most.Load() {
		}
		if hi-lo < grain {
			short.Add(1)
		}
		for i := lo; i < hi; i++ {
			hits[i].Add(1)
		}
		running.Add(-1)
	})
	for i := range hits {
		require.EqualValues(t, 1, hits[i].Load(), "n %d grain %d: index %d", n, grain, i)
	}
	assert.LessOrEqual(t, int(most.Load()), max(1, runtime.GOMAXPROCS(0)), "n %d grain %d", n, grain)
	assert.LessOrEqual(t, short.Load(), int32(1), "n %d grain %d: only the last range may be short", n, grain)
}

func TestForCovers(t *testing.T) {
	for _, procs := range []int{1, 2, 3, 8} {
		prev := runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 1, 2, 3, 7, 64, 1000, 1001} {
			for _, grain := range []int{-1, 0, 1, 2, 5, 100, 5000} {
				cover(t, n, grain)
			}
		}
		runtime.GOMAXPROCS(prev)
	}
}

func TestForUsesOtherGoroutines(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs GOMAXPROCS >= 2")
	}
	// Both ranges wait for each other: this finishes only if they run at
	// the same time.
	var wg sync.WaitGroup
	wg.Add(2)
	For(2, 1, func(lo, hi int) {
		wg.Done()
		wg.Wait()
	})
}

func TestForNestedAndConcurrent(t *testing.T) {
	const callers, n = 8, 50
	var total atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			For(n, 1, func(lo, hi int) {
				for range hi - lo {
					// A nested call finds the workers busy and must run
					// its ranges itself rather than wait for them.
					For(n, 1, func(lo, hi int) { total.Add(int64(hi - lo)) })
				}
			})
		}()
	}
	wg.Wait()
	require.EqualValues(t, callers*n*n, total.Load())
}

func TestForPanicReachesCaller(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs GOMAXPROCS >= 2")
	}
	for _, bad := range []int{0, 99} { // the caller's range, a worker's range
		require.PanicsWithValue(t, "boom", func() {
			For(100, 1, func(lo, hi int) {
				if lo <= bad && bad < hi {
					panic("boom")
				}
			})
		}, "panic in range holding %d", bad)
	}
	// The workers survive a panic and keep serving.
	cover(t, 100, 1)
}

type counter struct {
	sum  atomic.Int64
	body func(lo, hi int)
}

func (c *counter) add(lo, hi int) { c.sum.Add(int64(hi - lo)) }

func TestForAllocatesNothing(t *testing.T) {
	c := &counter{}
	c.body = c.add // made once, as layers do
	For(1000, 1, c.body)
	allocs := testing.AllocsPerRun(100, func() { For(1000, 1, c.body) })
	require.Zero(t, allocs)
	require.EqualValues(t, 102*1000, c.sum.Load())
}

// TestForBalances checks that a slow goroutine does not hold up a call:
// while the first range sleeps, the other goroutines take every other
// range rather than only their fixed share.
func TestForBalances(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs GOMAXPROCS >= 2")
	}
	const n = 64
	var after atomic.Int32 // ranges finished while range 0 slept
	var sleeping atomic.Bool
	For(n, 1, func(lo, hi int) {
		if lo == 0 {
			sleeping.Store(true)
			time.Sleep(100 * time.Millisecond)
			sleeping.Store(false)
			return
		}
		if sleeping.Load() {
			after.Add(int32(hi - lo))
		}
	})
	// A static split into one range per goroutine leaves the sleeper's
	// whole share waiting: at most half the loop runs in the meantime with
	// two goroutines. Shared ranges let the others do all but the
	// sleeping range and one more taken before the flag was set (3/4 of
	// the loop with 8 ranges).
	assert.Greater(t, int(after.Load()), n/runtime.GOMAXPROCS(0))
}

func BenchmarkFor(b *testing.B) {
	c := &counter{}
	c.body = c.add
	b.ReportAllocs()
	for b.Loop() {
		For(1<<10, 1, c.body)
	}
}

// BenchmarkCacheLineRoundTrip measures what sharing data between cores
// costs on this machine: two goroutines, each locked to a thread of its
// own, hand a counter in one cache line back and forth, so each round trip
// is two transfers of the line between the cores running them. On the
// project's 2-vCPU VM a round trip takes 465 to 530 ns, so a line written
// by one core costs the other about 250 ns to read: packed buffers that
// one worker writes and another reads pay that per line (see
// internal/gemm's task.runRows).
func BenchmarkCacheLineRoundTrip(b *testing.B) {
	if runtime.GOMAXPROCS(0) < 2 {
		b.Skip("needs two cores")
	}
	var line atomic.Int64
	stop := int64(-1)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer close(done)
		for want := int64(1); ; want += 2 {
			v := line.Load()
			for v != want && v != stop {
				v = line.Load()
			}
			if v == stop {
				return
			}
			line.Store(want + 1)
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	var v int64
	for b.Loop() {
		line.Store(v + 1)
		for line.Load() != v+2 {
		}
		v += 2
	}
	b.StopTimer()
	line.Store(stop)
	<-done
}
