package leaks

import (
	"encoding/binary"

	"github.com/gorigin-dev/gorigin/dbg"
)

// marker marks the heap objects reachable from the memory it is given: every aligned word
// of a root that points into an allocated object marks that object, and each newly
// marked object is scanned in turn — only the words its span's pointer maps say hold
// pointers (heapbits.go), every word where it has none. Scanning goes in rounds: each
// round reads everything grey in a few large batched reads.
type marker struct {
	m    dbg.Memory
	h    *heap
	skip map[uint64]bool // bases of objects marked but never scanned (runtime.g structs)
	// hole, by object base, is a part of an object not to scan: a runtime.p's write
	// barrier buffer, whose stale entries point anywhere.
	hole    map[uint64]field
	grey    []item
	greyObj []objRef // of each grey item: the heap object it is part of
	scanned uint64   // bytes scanned
	// Bytes of heap objects scanned with the runtime's pointer maps, and without them.
	precise, conservative uint64
	// types reads the type descriptors of malloc headers and large spans (nil: none).
	types    func(typ uint64) *gcType
	failed   int // reads that failed: the marking may be incomplete
	rounds   int
	marked   uint64
	progress func(done uint64)
	// from, when set (GORIGIN_LEAKS_EXPLAIN), records for each marked object the
	// address of the word that pointed to it: the path from a root, to explain a verdict.
	from map[uint64]uint64
	buf  []byte // read buffer, kept across rounds
}

// objRef names the heap object a grey item is part of: its span's index and its base;
// span -1: not a heap object (a root, scanned whole).
type objRef struct {
	span int
	base uint64
}

// root queues target memory [addr, addr+n) to be scanned.
func (k *marker) root(addr uint64, n uint64) { k.queue(objRef{-1, 0}, addr, n) }

// queue queues [addr, addr+n), part of the object r, to be scanned.
func (k *marker) queue(r objRef, addr uint64, n uint64) {
	addr = (addr + 7) &^ 7
	for n >= 8 {
		c := min(n, maxRegion) &^ 7
		k.grey = append(k.grey, item{addr, int(c)})
		k.greyObj = append(k.greyObj, r)
		addr += c
		n -= c
	}
}

// markObject marks the object holding addr, if any, and queues it to be scanned; it
// reports whether addr is in an allocated heap object.
func (k *marker) markObject(addr uint64) bool { return k.markFrom(addr, 0) }

// markFrom is markObject for a pointer found at the address at.
func (k *marker) markFrom(addr, at uint64) bool {
	si, obj, base, size, ok := k.h.findSpan(addr)
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
	if k.h.spans[si].noscan {
		return true // the garbage collector does not scan it either: it holds no pointers
	}
	r := objRef{si, base}
	if h, ok := k.hole[base]; ok && uint64(h.off+h.size) <= size {
		k.queue(r, base, uint64(h.off))
		k.queue(r, base+uint64(h.off+h.size), size-uint64(h.off+h.size))
	} else if !k.skip[base] {
		k.queue(r, base, size)
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
		units, objs := k.grey, k.greyObj
		k.grey, k.greyObj = nil, nil
		k.rounds++
		failed, err := readManyInto(k.m, units, &k.buf, func(i int, b []byte) {
			if objs[i].span >= 0 {
				k.scanObject(objs[i], units[i].addr, b)
			} else {
				k.scan(units[i].addr, b)
			}
		})
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

// scanObject marks what the pointer words of b, read at addr, part of the heap object r,
// point to: those its span's pointer maps name (as the garbage collector's scanobject
// does), or every word when there are none or they do not make sense.
func (k *marker) scanObject(r objRef, addr uint64, b []byte) {
	s := &k.h.spans[r.span]
	var t *gcType
	data := r.base // where the object's data (its first element) starts
	switch s.scan {
	case scanBits:
		k.scanBits(s, addr, b)
		return
	case scanHeader:
		var hdr [8]byte
		switch {
		case addr == r.base && len(b) >= 8:
			copy(hdr[:], b)
		case k.m.ReadBatch([]dbg.Region{{Addr: r.base, Buf: hdr[:]}}) != nil:
			k.failed++
		}
		if k.types != nil {
			t = k.types(binary.LittleEndian.Uint64(hdr[:]))
		}
		data = r.base + 8
		if t != nil && t.size > s.elemsize-8 {
			t = nil // larger than its slot: not its type
		}
	case scanLarge:
		if k.types != nil {
			t = k.types(s.largeType)
		}
	}
	if t == nil {
		k.conservative += uint64(len(b))
		k.scan(addr, b)
		return
	}
	k.precise += uint64(len(b))
	k.scanned += uint64(len(b))
	if t.ptrBytes == 0 {
		return
	}
	lo, hi := k.h.lo, k.h.hi
	for i := 0; i+8 <= len(b); i += 8 {
		at := addr + uint64(i)
		if at < data {
			continue // the malloc header: a type descriptor
		}
		off := (at - data) % t.size // tiled: an array of t fills the slot
		if off >= t.ptrBytes {
			continue
		}
		if w := off / 8; t.mask[w/8]>>(w%8)&1 == 0 {
			continue
		}
		if v := binary.LittleEndian.Uint64(b[i:]); v >= lo && v < hi {
			k.markFrom(v, at)
		}
	}
}

// scanBits scans b, read at addr in span s, with the span's pointer bits.
func (k *marker) scanBits(s *span, addr uint64, b []byte) {
	k.precise += uint64(len(b))
	k.scanned += uint64(len(b))
	lo, hi := k.h.lo, k.h.hi
	w := (addr - s.base) / 8
	for i := 0; i+8 <= len(b); i, w = i+8, w+1 {
		if w/8 >= uint64(len(s.bits)) { // no bits for the rest: every word counts
			k.precise -= uint64(len(b) - i)
			k.conservative += uint64(len(b) - i)
			k.scanned -= uint64(len(b) - i)
			k.scan(addr+uint64(i), b[i:])
			return
		}
		if s.bits[w/8]>>(w%8)&1 == 0 {
			continue
		}
		if v := binary.LittleEndian.Uint64(b[i:]); v >= lo && v < hi {
			k.markFrom(v, addr+uint64(i))
		}
	}
}
