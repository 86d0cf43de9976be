package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allocateObjects makes n small heap objects at one call stack.
//
//go:noinline
func allocateObjects(n int) []*[4]int64 {
	objs := make([]*[4]int64, n)
	for i := range objs {
		objs[i] = new([4]int64)
	}
	return objs
}

func TestAllocProfileFindsTheAllocatingStack(t *testing.T) {
	rate := runtime.MemProfileRate
	t.Cleanup(func() { runtime.MemProfileRate = rate })
	p := newAllocProfile()
	require.NoError(t, p.start())
	objs := allocateObjects(37)
	sites, err := p.stop()
	require.NoError(t, err)
	runtime.KeepAlive(objs)

	var out bytes.Buffer
	printAllocSites(&out, sites, 1)
	// Two sites in allocateObjects: the slice (1 object) and the 37
	// arrays of 32 bytes, on a line of their own.
	var found bool
	for _, s := range sites {
		frames := runtime.CallersFrames(s.stack)
		for {
			f, more := frames.Next()
			if strings.HasSuffix(f.Function, ".allocateObjects") && s.objects == 37 {
				found = true
				assert.EqualValues(t, 37*32, s.bytes)
			}
			if !more {
				break
			}
		}
	}
	assert.True(t, found, "no site of 37 objects in allocateObjects:\n%s", out.String())
	assert.Contains(t, out.String(), "37 objects, 1184 B:")
}

func TestAllocSitesSubtractsTheEarlierProfile(t *testing.T) {
	rec := func(pc uintptr, objects, bytes int64) runtime.MemProfileRecord {
		r := runtime.MemProfileRecord{AllocObjects: objects, AllocBytes: bytes}
		r.Stack0[0] = pc
		return r
	}
	before := []runtime.MemProfileRecord{rec(1, 3, 30), rec(2, 5, 50)}
	after := []runtime.MemProfileRecord{rec(1, 3, 30), rec(2, 6, 62), rec(3, 4, 400)}
	sites := allocSites(before, after)
	require.Len(t, sites, 2, "stack 1 did not allocate in between")
	assert.Equal(t, allocSite{stack: []uintptr{3}, objects: 4, bytes: 400}, sites[0])
	assert.Equal(t, allocSite{stack: []uintptr{2}, objects: 1, bytes: 12}, sites[1])
}

func TestAllocSitesFlag(t *testing.T) {
	rate := runtime.MemProfileRate
	t.Cleanup(func() { runtime.MemProfileRate = rate })
	code, out, errs := call(append([]string{"-mode", "eval", "-allocsites"}, tiny...)...)
	require.Equal(t, 0, code, errs)
	assert.Regexp(t, `(?m)^(no allocations|allocations) in the 2 timed steps`, out)
	assert.Contains(t, out, "effnet b0 eval 32px b2")
}
