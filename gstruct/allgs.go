package gstruct

import (
	"fmt"
	"slices"

	"github.com/gorigin-dev/gorigin/dbg"
)

// maxGs caps how many goroutines AllGs believes in, whatever memory says.
const maxGs = 50_000_000

// ErrCorrupt is wrapped when runtime.allgs or runtime.allglen hold what the runtime never
// writes: a damaged core, memory overwritten in the process, or a runtime whose variables
// gorigin found in the wrong place. It is bad input (the CLI's exit status 2).
var ErrCorrupt = dbg.NewInputError("the target's goroutine table is damaged")

// AllGs reads runtime.allglen and the runtime.allgs slice and returns the addresses of the
// runtime.g structures (every goroutine ever created that has not been freed, dead ones
// included). Call it after Bind, with the target frozen for a consistent view. The result
// is shared with later calls: do not modify it.
func (r *Runtime) AllGs(m dbg.Memory) ([]uint64, error) {
	p := r.l.ptrSize
	slice := dbg.Region{Addr: r.allgs + r.bias, Buf: make([]byte, 3*p)}
	length := dbg.Region{Addr: r.allglen + r.bias, Buf: make([]byte, p)}
	if err := m.ReadBatch([]dbg.Region{slice, length}); err != nil {
		return nil, fmt.Errorf("read %s and %s: %w", symAllgs, symAllglen, err)
	}
	data, sliceLen, sliceCap := r.l.ptrAt(slice.Buf, 0), r.l.ptrAt(slice.Buf, p), r.l.ptrAt(slice.Buf, 2*p)
	n := r.l.ptrAt(length.Buf, 0)
	if sliceLen > sliceCap {
		return nil, fmt.Errorf("%s is not a slice (len %d > cap %d): is the load bias %#x right? %w", symAllgs, sliceLen, sliceCap, r.bias, ErrCorrupt)
	}
	// allglen is stored after the append to allgs, so it is never beyond the slice.
	n = min(n, sliceLen, maxGs)
	if n == 0 {
		return nil, nil
	}
	if data == 0 {
		return nil, fmt.Errorf("%s has %d elements and a nil array: %w", symAllgs, n, ErrCorrupt)
	}
	// allgs only ever grows: entries are appended, never changed, and a larger array
	// replaces a full one. So when the array is the one read last time, only the entries
	// appended since need reading — the second look, made while the target is frozen,
	// then costs one small read instead of 8 bytes per goroutine.
	prev := r.lastAllgs
	from := 0
	if prev.data == data && uint64(len(prev.gs)) <= n && len(prev.gs) > 0 {
		from = len(prev.gs)
		if uint64(from) == n {
			return prev.out, nil // nothing appended: no read, no allocation
		}
	}
	gs := make([]uint64, 0, n)
	gs = append(gs, prev.gs[:from]...)
	if int(n) > from {
		arr := dbg.Region{Addr: data + uint64(from*p), Buf: make([]byte, (int(n)-from)*p)}
		if err := m.ReadBatch([]dbg.Region{arr}); err != nil {
			return nil, fmt.Errorf("read the %d elements of %s at %#x: %w: %w", n, symAllgs, data, err, ErrCorrupt)
		}
		for i := 0; i < int(n)-from; i++ {
			gs = append(gs, r.l.ptrAt(arr.Buf, i*p))
		}
	}
	// Usually no entry is nil: then the result is gs itself, not a second 8 MB (at
	// 1,000,000 goroutines) held as long as the Runtime.
	out := gs
	if slices.Contains(gs, 0) {
		out = make([]uint64, 0, len(gs))
		for _, g := range gs {
			if g != 0 {
				out = append(out, g)
			}
		}
	}
	r.lastAllgs = allgsView{data: data, gs: gs, out: out}
	return out, nil
}

// allgsView is the allgs array as AllGs read it last.
type allgsView struct {
	data uint64   // address of the array
	gs   []uint64 // its first allglen entries
	out  []uint64 // what AllGs returned for them
}
