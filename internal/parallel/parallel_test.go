package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cover runs For and checks that the ranges are disjoint, cover [0, n)
// exactly once and hold at least grain items (but for a shorter last one).
func cover(t *testing.T, n, grain int) {
	t.Helper()
	hits := make([]atomic.Int32, max(n, 0))
	var calls atomic.Int32
	var short atomic.Int32
	For(n, grain, func(lo, hi int) {
		calls.Add(1)
		if hi-lo < grain {
			short.Add(1)
		}
		for i := lo; i < hi; i++ {
			hits[i].Add(1)
		}
	})
	for i := range hits {
		require.EqualValues(t, 1, hits[i].Load(), "n %d grain %d: index %d", n, grain, i)
	}
	assert.LessOrEqual(t, int(calls.Load()), max(1, runtime.GOMAXPROCS(0)), "n %d grain %d", n, grain)
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

func BenchmarkFor(b *testing.B) {
	c := &counter{}
	c.body = c.add
	b.ReportAllocs()
	for b.Loop() {
		For(1<<10, 1, c.body)
	}
}
