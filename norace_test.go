//go:build !race

package effnet

const raceEnabled = false
