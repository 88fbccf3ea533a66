package capture

import (
	"errors"
	"fmt"
	"slices"
	"syscall"
	"unsafe"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/gstruct"
)

// The g structs live in heap spans of one size class, many to a span, so sorting their
// addresses and reading runs of neighbours as one region copies them with a few large reads
// instead of one small read per g.
const (
	mergeGap    = 16 << 10 // read across a gap up to this size rather than start a new region
	maxRegion   = 4 << 20  // but keep each region at most this large
	maxStack    = 1 << 20  // copy at most this much of one goroutine's stack
	maxStackAll = 1 << 30  // and at most this much in all
)

// readGs reads allgs and every g struct it points to. It returns the g addresses in allgs
// order and, for each, its raw bytes.
func readGs(m dbg.Memory, rt *gstruct.Runtime) ([]uint64, [][]byte, error) {
	addrs, err := rt.AllGs(m)
	if err != nil {
		return nil, nil, err
	}
	size := uint64(rt.GSize())
	sorted := slices.Clone(addrs)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)

	type run struct{ lo, hi uint64 }
	var runs []run
	for _, a := range sorted {
		if n := len(runs); n > 0 && a <= runs[n-1].hi+mergeGap && a+size-runs[n-1].lo <= maxRegion {
			runs[n-1].hi = max(runs[n-1].hi, a+size)
			continue
		}
		runs = append(runs, run{a, a + size})
	}
	regions := make([]dbg.Region, len(runs))
	for i, r := range runs {
		regions[i] = dbg.Region{Addr: r.lo, Buf: make([]byte, r.hi-r.lo)}
	}
	failed := map[int]bool{}
	if err := m.ReadBatch(regions); err != nil {
		var re *dbg.ReadError
		if !errors.As(err, &re) {
			return nil, nil, fmt.Errorf("read the g structs: %w", err)
		}
		for _, i := range re.Failed {
			failed[i] = true
		}
	}

	// Slice each g out of its region; re-read singly the g's whose region failed (a run
	// that crossed an unmapped gap).
	raws := make([][]byte, len(addrs))
	var retry []dbg.Region
	var retryIdx []int
	for i, a := range addrs {
		r, _ := slices.BinarySearchFunc(runs, a, func(r run, a uint64) int {
			switch {
			case r.hi <= a:
				return -1
			case r.lo > a:
				return 1
			}
			return 0
		})
		if r < len(runs) && !failed[r] {
			off := a - runs[r].lo
			raws[i] = regions[r].Buf[off : off+size]
			continue
		}
		retry = append(retry, dbg.Region{Addr: a, Buf: make([]byte, size)})
		retryIdx = append(retryIdx, i)
	}
	if len(retry) > 0 {
		bad := map[int]bool{}
		if err := m.ReadBatch(retry); err != nil {
			var re *dbg.ReadError
			if !errors.As(err, &re) {
				return nil, nil, fmt.Errorf("read the g structs: %w", err)
			}
			for _, i := range re.Failed {
				bad[i] = true
			}
		}
		for j, i := range retryIdx {
			if !bad[j] {
				raws[i] = retry[j].Buf
			}
		}
	}
	// Drop the g's that could not be read at all.
	outA, outR := addrs[:0:0], raws[:0:0]
	for i := range addrs {
		if raws[i] != nil {
			outA = append(outA, addrs[i])
			outR = append(outR, raws[i])
		}
	}
	if len(outA) == 0 && len(addrs) > 0 {
		return nil, nil, fmt.Errorf("none of the %d g structs could be read", len(addrs))
	}
	return outA, outR, nil
}

// readStacks copies, for each live goroutine, its stack from the saved stack pointer up to
// the top of its stack, in one batch. Goroutines whose stack cannot be read are left out.
func readStacks(m dbg.Memory, gs []gstruct.G) map[uint64][]byte {
	var regions []dbg.Region
	var owners []uint64
	total := 0
	for _, g := range gs {
		if g.Status == "dead" || g.Status == "idle" || g.SchedSP == 0 {
			continue
		}
		if g.SchedSP < g.StackLo || g.SchedSP >= g.StackHi {
			continue
		}
		n := min(int(g.StackHi-g.SchedSP), maxStack)
		if total+n > maxStackAll {
			break
		}
		total += n
		regions = append(regions, dbg.Region{Addr: g.SchedSP, Buf: make([]byte, n)})
		owners = append(owners, g.Addr)
	}
	failed := map[int]bool{}
	if err := m.ReadBatch(regions); err != nil {
		var re *dbg.ReadError
		if !errors.As(err, &re) {
			return nil
		}
		for _, i := range re.Failed {
			failed[i] = true
		}
	}
	out := make(map[uint64][]byte, len(regions))
	for i, r := range regions {
		if !failed[i] {
			out[owners[i]] = r.Buf
		}
	}
	return out
}

// monotonicNow is the target's nanotime: the runtime's nanotime is CLOCK_MONOTONIC, which
// is shared by every process on this machine.
func monotonicNow(opt Options) int64 {
	if opt.Now != nil {
		return opt.Now()
	}
	var ts syscall.Timespec
	const clockMonotonic = 1
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return ts.Nano()
}
