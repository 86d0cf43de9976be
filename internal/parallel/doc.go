// Package parallel spreads loops over the available cores.
//
// For is the one entry point. It cuts [0, n) into a few contiguous ranges
// per core and runs them on the calling goroutine and on a small pool of
// parked worker goroutines, which take ranges from a shared counter: on a
// machine shared with other processes, a goroutine that loses its core for
// a while leaves its ranges to the others instead of holding up the call.
//
// The pool exists because a training step calls For thousands of times:
// starting goroutines per call, with a closure and a WaitGroup each, made
// every call allocate, and the allocations of a step added up to
// garbage-collector work that grew with the model. Workers are started
// lazily on the first call that can use them, never more than
// GOMAXPROCS-1 of them (at most maxParts), and stay parked on a channel
// receive between calls; the per-call bookkeeping is cached and reused.
// The pool is an implementation detail, like the runtime's own or gonum's,
// with no settings and nothing a caller can observe but the idle
// goroutines.
package parallel
