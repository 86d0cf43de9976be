package main

import (
	"cmp"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
)

// allocProfile finds where a stretch of code allocates, for -allocsites:
// the runtime's malloc count says how many objects the timed steps
// allocate, this says which call stacks allocated them. It records every
// allocation (runtime.MemProfileRate = 1) and subtracts the memory profile
// taken before the stretch from the one taken after it.
type allocProfile struct {
	before, after []runtime.MemProfileRecord
}

// newAllocProfile turns on the recording of every allocation for the rest
// of the process (runtime.MemProfileRate is process-wide); only
// allocations made after it are attributed to their call stacks.
func newAllocProfile() *allocProfile {
	runtime.MemProfileRate = 1
	return &allocProfile{}
}

// spareRecords is room for call stacks first seen between start and stop.
const spareRecords = 4096

// start takes the profile before the stretch. Both record buffers are
// made here, before the garbage collection that publishes the profile, so
// that nothing start or stop allocates is counted as the stretch's.
func (p *allocProfile) start() error {
	n, _ := runtime.MemProfile(nil, true)
	p.before = make([]runtime.MemProfileRecord, n+spareRecords)
	p.after = make([]runtime.MemProfileRecord, n+2*spareRecords)
	var err error
	p.before, err = snapshot(p.before)
	return err
}

// stop takes the profile after the stretch and returns its allocations
// by call stack, most objects first.
func (p *allocProfile) stop() ([]allocSite, error) {
	after, err := snapshot(p.after)
	if err != nil {
		return nil, err
	}
	return allocSites(p.before, after), nil
}

// snapshot copies the memory profile into buf without allocating. The
// profile only shows allocations up to the last completed garbage
// collection, so it forces two: the first may have begun before the
// stretch ended.
func snapshot(buf []runtime.MemProfileRecord) ([]runtime.MemProfileRecord, error) {
	runtime.GC()
	runtime.GC()
	n, ok := runtime.MemProfile(buf, true)
	if !ok {
		return nil, fmt.Errorf("memory profile has %d call stacks, more than the %d made room for", n, len(buf))
	}
	return buf[:n], nil
}

// allocSite is one call stack's allocations between two profiles.
type allocSite struct {
	stack          []uintptr
	objects, bytes int64
}

// allocCount is a call stack's allocations in a profile.
type allocCount struct{ objects, bytes int64 }

// byStack sums a profile's allocations by call stack. Stacks deeper than
// a record holds can share one truncated key.
func byStack(profile []runtime.MemProfileRecord) map[[32]uintptr]allocCount {
	m := make(map[[32]uintptr]allocCount, len(profile))
	for _, r := range profile {
		c := m[r.Stack0]
		m[r.Stack0] = allocCount{c.objects + r.AllocObjects, c.bytes + r.AllocBytes}
	}
	return m
}

// allocSites subtracts profile before from profile after, by call stack.
func allocSites(before, after []runtime.MemProfileRecord) []allocSite {
	was := byStack(before)
	var sites []allocSite
	for stack, c := range byStack(after) {
		if d := c.objects - was[stack].objects; d > 0 {
			s := allocSite{objects: d, bytes: c.bytes - was[stack].bytes}
			for _, pc := range stack {
				if pc == 0 {
					break
				}
				s.stack = append(s.stack, pc)
			}
			sites = append(sites, s)
		}
	}
	slices.SortFunc(sites, func(a, b allocSite) int {
		return cmp.Or(cmp.Compare(b.objects, a.objects), cmp.Compare(b.bytes, a.bytes))
	})
	return sites
}

// printAllocSites writes the sites of steps timed steps, each with its
// call stack, innermost call first.
func printAllocSites(w io.Writer, sites []allocSite, steps int) {
	if len(sites) == 0 {
		fmt.Fprintf(w, "no allocations in the %d timed steps\n", steps)
		return
	}
	fmt.Fprintf(w, "allocations in the %d timed steps, by call stack:\n", steps)
	for _, s := range sites {
		fmt.Fprintf(w, "%d objects, %d B:\n", s.objects, s.bytes)
		frames := runtime.CallersFrames(s.stack)
		for {
			f, more := frames.Next()
			if f.Function != "" {
				fmt.Fprintf(w, "    %s (%s:%d)\n", f.Function, filepath.Base(f.File), f.Line)
			}
			if !more {
				break
			}
		}
	}
}
