package leaks

import (
	"encoding/binary"

	"github.com/gorigin-dev/gorigin/dbg"
)

// marker marks the heap objects reachable from the memory it is given, conservatively:
// every aligned word that points into an allocated object marks that object, and each
// newly marked object is scanned in turn. Scanning goes in rounds: each round reads
// everything grey in a few large batched reads.
type marker struct {
	m    dbg.Memory
	h    *heap
	skip map[uint64]bool // bases of objects marked but never scanned (runtime.g structs)
	// hole, by object base, is a part of an object not to scan: a runtime.p's write
	// barrier buffer, whose stale entries point anywhere.
	hole     map[uint64]field
	grey     []item
	scanned  uint64 // bytes scanned
	failed   int    // reads that failed: the marking may be incomplete
	rounds   int
	marked   uint64
	progress func(done uint64)
	// from, when set (GORIGIN_LEAKS_EXPLAIN), records for each marked object the
	// address of the word that pointed to it: the path from a root, to explain a verdict.
	from map[uint64]uint64
	buf  []byte // read buffer, kept across rounds
}

// root queues target memory [addr, addr+n) to be scanned.
func (k *marker) root(addr uint64, n uint64) {
	addr = (addr + 7) &^ 7
	for n >= 8 {
		c := min(n, maxRegion) &^ 7
		k.grey = append(k.grey, item{addr, int(c)})
		addr += c
		n -= c
	}
}

// markObject marks the object holding addr, if any, and queues it to be scanned; it
// reports whether addr is in an allocated heap object.
func (k *marker) markObject(addr uint64) bool { return k.markFrom(addr, 0) }

// markFrom is markObject for a pointer found at the address at.
func (k *marker) markFrom(addr, at uint64) bool {
	obj, base, size, noscan, ok := k.h.findSpan(addr)
	if !ok {
		return false
	}
	if k.h.mark.get(obj) {
		return true
	}
	k.h.mark.set(obj)
	k.marked++
	if k.from != nil {
		k.from[obj] = at
	}
	if noscan {
		return true // the garbage collector does not scan it either: it holds no pointers
	}
	if h, ok := k.hole[base]; ok && uint64(h.off+h.size) <= size {
		k.root(base, uint64(h.off))
		k.root(base+uint64(h.off+h.size), size-uint64(h.off+h.size))
	} else if !k.skip[base] {
		k.root(base, size)
	}
	return true
}

// scan marks what the words of b, read at addr, point to.
func (k *marker) scan(addr uint64, b []byte) {
	lo, hi := k.h.lo, k.h.hi
	for i := 0; i+8 <= len(b); i += 8 {
		if v := binary.LittleEndian.Uint64(b[i:]); v >= lo && v < hi {
			k.markFrom(v, addr+uint64(i))
		}
	}
	k.scanned += uint64(len(b))
}

// drain scans until nothing is grey.
func (k *marker) drain() error {
	for len(k.grey) > 0 {
		units := k.grey
		k.grey = nil
		k.rounds++
		failed, err := readManyInto(k.m, units, &k.buf, func(i int, b []byte) { k.scan(units[i].addr, b) })
		if err != nil {
			return err
		}
		k.failed += failed
		if k.progress != nil {
			k.progress(k.marked)
		}
	}
	return nil
}
