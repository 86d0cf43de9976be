//go:build race

package gemm

// raceEnabled: the race detector adds allocations of its own (and makes
// sync.Pool drop items at random), so allocation counts are meaningless.
const raceEnabled = true
