//go:build !amd64 || noasm

package vmath

// available lists the implementations this build runs: only the portable one.
func available() []*impl { return []*impl{&goImpl} }

// best is chosen once; it never changes afterwards.
var best = available()[0]
