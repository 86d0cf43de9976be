//go:build !amd64 || noasm

package chanops

// available lists the implementations this build runs: the Go loops.
func available() []*impl { return []*impl{&goImpl} }

// best is chosen once; it never changes afterwards.
var best = available()[0]
