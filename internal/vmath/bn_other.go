//go:build !amd64 || noasm

package vmath

// bnAvailable lists the batch normalisation implementations this build
// runs: only the portable one.
func bnAvailable() []*bnImpl { return []*bnImpl{&bnGo} }

// bnBest is chosen once; it never changes afterwards.
var bnBest = bnAvailable()[0]
