package leaks

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/gorigin-dev/gorigin/dbg"
)

// Caps on what the target's memory may claim.
const (
	maxSpans    = 1 << 24
	maxSpanSize = 1 << 40
	pageShift   = 13 // the runtime's page size, 8 KiB
	maxPages    = 1 << 22
)

// span is one in-use heap span: nelems objects of elemsize bytes from base. bit is the
// index of its first object in the heap's bitsets.
type span struct {
	base, limit uint64
	elemsize    uint64
	nelems      uint64
	bit         uint64
	specials    uint64
	noscan      bool // its objects hold no pointers: never scanned (nor copied)
	npages      uint64
	class       uint8  // mspan.spanclass: size class << 1 | noscan
	largeType   uint64 // mspan.largeType (Go 1.22+)
	scan        int    // how its objects are scanned: scanWords, scanBits, ...
	bits        []byte // scanBits: one pointer bit per word from base
	allocBits   uint64 // mspan.allocBits: one bit per object
	freeIndex   uint64 // mspan.freeindex: objects below it are allocated
}

// allocItem is where span s's allocation bits are.
func (s *span) allocItem() item { return item{s.allocBits, int((s.nelems + 7) / 8)} }

// heap is the in-use heap of a frozen target: its spans, sorted by address, and two bits
// per object: allocated, and marked reachable. Memory is proportional to the number of
// objects, not to the heap's size.
type heap struct {
	spans       []span
	alloc, mark bitset
	lo, hi      uint64
	pages       []int32 // span index + 1 of each heap page from lo, when the range is small enough
	objects     uint64  // bits in the bitsets (each span's first is byte-aligned)
	count       uint64  // objects
	bytes       uint64
	meta        [][2]uint64 // the span table, span structs and allocation bits read
}

// spanTable is the heap's in-use spans as the span table lists them, sorted by address,
// with where each one's allocation bits are and its freeindex: what a freeze must know to
// decide what to copy, without decoding a single object.
type spanTable struct {
	spans   []span
	objects uint64      // bits in the bitsets (each span's first is byte-aligned)
	meta    [][2]uint64 // what was read (not for a freeze: its scratch is set)
}

// spanScratch is memory for readSpans, allocated and touched before a freeze so that
// the freeze does not wait on the kernel faulting in fresh pages.
type spanScratch struct {
	spans, sorted []span
	keys          []spanKey
}

// spanKey sorts spans by base.
type spanKey struct {
	base uint64
	i    int
}

// newSpanScratch makes room for n spans.
func newSpanScratch(n int) *spanScratch {
	sc := &spanScratch{make([]span, n), make([]span, n), make([]spanKey, n)}
	for i := range n { // touch every page
		sc.spans[i].base, sc.sorted[i].base, sc.keys[i].base = 1, 1, 1
	}
	return sc
}

// readSpans reads runtime.mheap_.allspans and every span's header, into sc's memory
// where it has room (sc may be nil).
func readSpans(m dbg.Memory, l *layout, bias uint64, sc *spanScratch) (*spanTable, error) {
	hdr := make([]byte, 16)
	if err := m.ReadBatch([]dbg.Region{{Addr: l.mheap + bias + uint64(l.allspans.off), Buf: hdr}}); err != nil {
		return nil, fmt.Errorf("read runtime.mheap_.allspans: %w", err)
	}
	data, n := word(hdr, field{0, 8}), word(hdr, field{8, 8})
	if n > maxSpans || (n > 0 && data == 0) {
		return nil, fmt.Errorf("runtime.mheap_.allspans is not a slice (%#x, %d): is this the target's executable?", data, n)
	}
	var ptrs []item
	for off := uint64(0); off < n*8; off += maxRegion {
		ptrs = append(ptrs, item{data + off, int(min(maxRegion, n*8-off))})
	}
	spanAddrs := make([]uint64, 0, n)
	if _, err := readMany(m, ptrs, func(_ int, b []byte) {
		for i := 0; i+8 <= len(b); i += 8 {
			if a := word(b, field{i, 8}); a != 0 {
				spanAddrs = append(spanAddrs, a)
			}
		}
	}); err != nil {
		return nil, fmt.Errorf("read runtime.mheap_.allspans: %w", err)
	}
	items := make([]item, len(spanAddrs))
	for i, a := range spanAddrs {
		items[i] = item{a, l.spanSize}
	}
	t := &spanTable{}
	if sc == nil {
		for _, it := range append(ptrs, items...) {
			t.meta = append(t.meta, [2]uint64{it.addr, it.addr + uint64(it.n)})
		}
	}
	if sc == nil || len(sc.spans) < len(items) {
		sc = &spanScratch{make([]span, len(items)), make([]span, len(items)), make([]spanKey, len(items))}
	}
	spans := sc.spans[:0]
	decode := func(_ int, b []byte) {
		if word(b, l.state) != l.spanInUse {
			return
		}
		s := span{
			base: word(b, l.startAddr), elemsize: word(b, l.elemsize), nelems: word(b, l.nelems),
			limit: word(b, l.limit), specials: word(b, l.specials),
			noscan: l.spanclass.ok() && word(b, l.spanclass)&1 != 0,
			npages: word(b, l.npages), class: uint8(word(b, l.spanclass)), largeType: word(b, l.spanLargeType),
			allocBits: word(b, l.allocBits), freeIndex: word(b, l.freeindex),
		}
		size := s.npages << pageShift
		if s.base == 0 || s.elemsize == 0 || size == 0 || size > maxSpanSize || s.nelems == 0 ||
			s.nelems > size/min(s.elemsize, 8)+1 || s.nelems*s.elemsize > size || s.base+size < s.base {
			return
		}
		if s.limit < s.base || s.limit > s.base+size {
			s.limit = s.base + size
		}
		spans = append(spans, s)
	}
	// From a copy, the span structs are decoded where they lie: a freeze waits on this.
	rest := items
	if im, ok := m.(*image); ok {
		rest = nil
		for i, it := range items {
			if b := im.view(it.addr, it.n); b != nil {
				decode(i, b)
			} else {
				rest = append(rest, it)
			}
		}
	}
	if _, err := readMany(m, rest, decode); err != nil {
		return nil, fmt.Errorf("read the heap's spans: %w", err)
	}
	// Sort spans by address.
	keys := sc.keys[:len(spans)]
	for i := range keys {
		keys[i] = spanKey{spans[i].base, i}
	}
	slices.SortFunc(keys, func(x, y spanKey) int { return cmp.Compare(x.base, y.base) })
	t.spans = sc.sorted[:0]
	for _, k := range keys {
		if n := len(t.spans); n > 0 && k.base < t.spans[n-1].base+t.spans[n-1].nelems*t.spans[n-1].elemsize {
			continue // overlapping: a stale header
		}
		s := spans[k.i]
		s.bit = (t.objects + 7) &^ 7 // byte-aligned: allocation bits copy a byte at a time
		t.objects = s.bit + s.nelems
		t.spans = append(t.spans, s)
	}
	if t.meta != nil {
		for i := range t.spans {
			it := t.spans[i].allocItem()
			t.meta = append(t.meta, [2]uint64{it.addr, it.addr + uint64(it.n)})
		}
	}
	return t, nil
}

// readHeap reads runtime.mheap_.allspans, every span's header and allocation bits.
func readHeap(m dbg.Memory, l *layout, bias uint64) (*heap, error) {
	t, err := readSpans(m, l, bias, nil)
	if err != nil {
		return nil, err
	}
	h := &heap{spans: t.spans, objects: t.objects, meta: t.meta}
	for _, s := range h.spans {
		h.count += s.nelems
		h.bytes += s.nelems * s.elemsize
	}
	sBits := make([]item, len(h.spans))
	for i := range h.spans {
		sBits[i] = h.spans[i].allocItem()
	}
	h.alloc, h.mark = newBitset(h.objects), newBitset(h.objects)
	// An object is allocated when it is below freeindex or its allocBits bit is set (the
	// runtime's isFree). Unreadable bits: every object counts as allocated.
	for _, s := range h.spans {
		h.alloc.setRange(s.bit, min(s.freeIndex, s.nelems))
	}
	bitsRead := make([]bool, len(h.spans))
	if _, err := readMany(m, sBits, func(i int, b []byte) {
		bitsRead[i] = true
		s := h.spans[i]
		for j := uint64(0); j < s.nelems; j += 8 {
			v := b[j/8]
			if s.nelems-j < 8 {
				v &= byte(1)<<(s.nelems-j) - 1 // bits past nelems are not objects
			}
			h.alloc.orByte(s.bit+j, v)
		}
	}); err != nil {
		return nil, fmt.Errorf("read the heap's allocation bits: %w", err)
	}
	for i, s := range h.spans {
		if !bitsRead[i] {
			h.alloc.setRange(s.bit, s.nelems)
		}
	}
	if len(h.spans) > 0 {
		h.lo = h.spans[0].base
		last := h.spans[len(h.spans)-1]
		h.hi = last.base + last.nelems*last.elemsize
		if np := (h.hi - h.lo + 1<<pageShift - 1) >> pageShift; np <= maxPages {
			h.pages = make([]int32, np)
			for i, s := range h.spans {
				end := s.base + s.nelems*s.elemsize
				for p := (s.base - h.lo) >> pageShift; p < np && h.lo+p<<pageShift < end; p++ {
					h.pages[p] = int32(i + 1)
				}
			}
		}
	}
	return h, nil
}

// find returns the allocated object holding addr: its index in the bitsets, base and size.
func (h *heap) find(addr uint64) (obj, base, size uint64, ok bool) {
	_, obj, base, size, ok = h.findSpan(addr)
	return obj, base, size, ok
}

// findSpan is find that also says which span (its index in h.spans) holds the object.
func (h *heap) findSpan(addr uint64) (si int, obj, base, size uint64, ok bool) {
	if addr < h.lo || addr >= h.hi {
		return 0, 0, 0, 0, false
	}
	if h.pages != nil {
		si = int(h.pages[(addr-h.lo)>>pageShift]) - 1
		if si < 0 {
			return 0, 0, 0, 0, false
		}
	} else {
		si, _ = slices.BinarySearchFunc(h.spans, addr, func(s span, a uint64) int {
			if s.base <= a {
				return -1
			}
			return 1
		})
		si--
		if si < 0 {
			return 0, 0, 0, 0, false
		}
	}
	s := &h.spans[si]
	if addr < s.base || addr >= s.base+s.nelems*s.elemsize {
		return 0, 0, 0, 0, false
	}
	j := (addr - s.base) / s.elemsize
	obj = s.bit + j
	if !h.alloc.get(obj) {
		return 0, 0, 0, 0, false
	}
	base = s.base + j*s.elemsize
	size = s.elemsize
	if s.nelems == 1 && s.limit > s.base {
		size = min(size, s.limit-s.base) // a large object: its data ends at limit
	}
	return si, obj, base, size, true
}

type bitset []uint64

func newBitset(n uint64) bitset { return make(bitset, (n+63)/64) }
func (b bitset) set(i uint64)   { b[i/64] |= 1 << (i % 64) }

// orByte sets the bits of v at i, a multiple of 8.
func (b bitset) orByte(i uint64, v byte) { b[i/64] |= uint64(v) << (i % 64) }

// setRange sets n bits from i.
func (b bitset) setRange(i, n uint64) {
	for ; n > 0 && i%64 != 0; n-- {
		b.set(i)
		i++
	}
	for ; n >= 64; n -= 64 {
		b[i/64] = ^uint64(0)
		i += 64
	}
	for ; n > 0; n-- {
		b.set(i)
		i++
	}
}

func (b bitset) get(i uint64) bool {
	return b[i/64]&(1<<(i%64)) != 0
}
