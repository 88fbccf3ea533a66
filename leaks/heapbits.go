package leaks

import (
	"debug/elf"

	"github.com/gorigin-dev/gorigin/dbg"
)

// Heap objects are scanned with the pointer maps the garbage collector itself uses
// (runtime/mbitmap.go of each release), wherever the target's heap carries them:
//
//   - Go 1.20–1.21 (schemeArena): every heap word has a pointer bit in its arena's
//     heapArena.bitmap, found through mheap_.arenas. A span's bits are copied with it.
//   - Go 1.22+ (schemeSpan): objects of at most 512 bytes have one bit per word at the
//     end of their span (before the Green Tea collector's inline mark bits, Go 1.25+);
//     larger objects in size-classed spans start with a malloc header, their *abi.Type,
//     and a large object's type is its span's largeType. A type's GC bitmap (GCData,
//     PtrBytes bytes of it, repeated every Size_ bytes for an array) is read from the
//     executable file: type descriptors are read-only data.
//
// An object whose map is missing or does not make sense — a type pointer outside the
// module's types, a type built at run time (a GC program's unrolled bitmap, Go
// 1.22–1.23; a mask built on demand, Go 1.24+), a bitmap that cannot be read — is
// scanned conservatively, which can only hide a leak, never invent one.

// Pointer-map schemes of the target's heap.
const (
	schemeConservative = iota // no pointer maps: every word of an object counts
	schemeArena               // Go 1.20–1.21: heapArena.bitmap
	schemeSpan                // Go 1.22+: bits at the end of the span, malloc headers, largeType
)

// How the objects of one span are scanned.
const (
	scanWords  = iota // conservatively: every word
	scanBits          // span.bits: one bit per word from the span's base
	scanHeader        // the object's first word is its *abi.Type, its data follows
	scanLarge         // the (one) object's type is span.largeType
)

const (
	heapArenaBytes  = 64 << 20 // runtime.heapArenaBytes, 64-bit Linux
	mallocHeaderMin = 512      // runtime.minSizeForMallocHeader (64-bit): larger objects have a header
	inlineMarkBytes = 128      // sizeof(runtime.spanInlineMarkBits), Green Tea (Go 1.25+)
	kindGCProg      = 1 << 6   // abi.KindGCProg (Go 1.20–1.23): GCData is a program
	tflagGCOnDemand = 1 << 4   // abi.TFlagGCMaskOnDemand (Go 1.24+): GCData is a slot
	maxTypeBytes    = 1 << 34  // bounds a type's size read from the executable
	maxArenas       = 1 << 22  // runtime.arenaL2Bits on 64-bit Linux
)

// pointerScheme says which pointer maps the target's heap carries: the arena bitmap when
// heapArena has one (Go 1.20–1.21, or a later release built with
// GOEXPERIMENT=noallocheaders), else span bits and malloc headers from Go 1.22.
func pointerScheme(l *layout, mach elf.Machine) int {
	switch mach {
	case elf.EM_X86_64:
		l.arenaBaseOffset = 0xffff800000000000 // runtime.arenaBaseOffset
	case elf.EM_AARCH64:
	default:
		return schemeConservative
	}
	switch {
	case l.arenaBitmap.ok() && l.arenas.ok() && uint64(l.arenaBitmap.size)*64 == heapArenaBytes:
		return schemeArena
	case l.goMinor >= 22 && l.spanLargeType.ok() && l.spanclass.ok() && l.typeSize.ok() &&
		l.typePtrBytes.ok() && l.typeGC.ok() && l.typeKind.ok() && l.typeTflag.ok():
		return schemeSpan
	}
	return schemeConservative
}

// bitsAt is where part of a span's pointer bits are in target memory: the n bytes at addr
// are span.bits[off:off+n] (schemeArena), or the span's tail that holds them (schemeSpan).
type bitsAt struct {
	span int
	off  int
	addr uint64
	n    int
}

// smallBits says whether span s keeps its objects' pointer bits at its end (schemeSpan).
func smallBits(s *span) bool {
	return !s.noscan && s.class>>1 != 0 && s.elemsize <= mallocHeaderMin && s.npages > 0
}

// pointerBitsAt says where the pointer bits of spans are, reading mheap_.arenas through m
// (schemeArena): what the copy must hold besides the spans, and what loadPointerBits reads.
func (a *analysis) pointerBitsAt(m dbg.Memory, spans []span) []bitsAt {
	var out []bitsAt
	switch a.l.ptrScheme {
	case schemeSpan:
		out = make([]bitsAt, 0, len(spans))
		for i := range spans {
			s := &spans[i]
			if smallBits(s) {
				lo, hi := s.base+s.nelems*s.elemsize, s.base+s.npages<<pageShift
				if hi > lo && hi-lo <= 2*mallocHeaderMin+inlineMarkBytes+s.npages<<pageShift/64 {
					out = append(out, bitsAt{i, 0, lo, int(hi - lo)})
				}
			}
		}
	case schemeArena:
		l2 := make([]byte, 8)
		if m.ReadBatch([]dbg.Region{{Addr: a.l.mheap + a.bias + uint64(a.l.arenas.off), Buf: l2}}) != nil {
			return nil
		}
		table := word(l2, field{0, 8})
		arenas := map[uint64]uint64{} // arena index → its heapArena
		var idx []uint64
		for i := range spans {
			if s := &spans[i]; !s.noscan {
				for ai := a.arenaIndex(s.base); ai <= a.arenaIndex(s.base+s.nelems*s.elemsize-1) && ai < maxArenas; ai++ {
					if _, ok := arenas[ai]; !ok {
						arenas[ai] = 0
						idx = append(idx, ai)
					}
				}
			}
		}
		items := make([]item, len(idx))
		for i, ai := range idx {
			items[i] = item{table + ai*8, 8}
		}
		if table == 0 {
			return nil
		}
		readMany(m, items, func(i int, b []byte) { arenas[idx[i]] = word(b, field{0, 8}) })
		for i := range spans {
			s := &spans[i]
			if s.noscan {
				continue
			}
			end := s.base + s.nelems*s.elemsize
			for lo := s.base; lo < end; {
				ai := a.arenaIndex(lo)
				start := ai*heapArenaBytes + a.l.arenaBaseOffset
				hi := min(end, start+heapArenaBytes)
				ha := arenas[ai]
				if ha == 0 || hi <= lo {
					break
				}
				out = append(out, bitsAt{i, int((lo - s.base) / 64), ha + uint64(a.l.arenaBitmap.off) + (lo-start)/64, int((hi - lo + 63) / 64)})
				lo = hi
			}
		}
	}
	return out
}

// arenaIndex is runtime.arenaIndex on 64-bit Linux (arenaL1Bits 0).
func (a *analysis) arenaIndex(addr uint64) uint64 {
	return (addr - a.l.arenaBaseOffset) / heapArenaBytes
}

// loadPointerBits reads the spans' pointer bits (where the copy holds them) and says how
// each span's objects are scanned; a span whose bits cannot be read is scanned
// conservatively.
func (a *analysis) loadPointerBits() {
	h := a.h
	if a.l.ptrScheme == schemeSpan {
		for i := range h.spans {
			s := &h.spans[i]
			switch {
			case s.noscan || smallBits(s):
			case s.class>>1 != 0:
				s.scan = scanHeader
			case s.nelems == 1 && s.largeType != 0:
				s.scan = scanLarge
			}
		}
	}
	at := a.pointerBitsAt(a.m, h.spans)
	items := make([]item, len(at))
	for i, b := range at {
		items[i] = item{b.addr, b.n}
	}
	bad := map[int]bool{}
	readMany(a.m, items, func(i int, b []byte) {
		s := &h.spans[at[i].span]
		if a.l.ptrScheme == schemeArena {
			if s.bits == nil {
				s.bits = make([]byte, (s.nelems*s.elemsize+63)/64)
			}
			if at[i].off+len(b) > len(s.bits) {
				bad[at[i].span] = true
				return
			}
			copy(s.bits[at[i].off:], b)
			return
		}
		// The tail of a small-object span: its bitmap, then (Green Tea) the inline mark
		// bits, whose last byte is the span's class.
		size := s.npages << pageShift / 64
		lo := s.base + s.npages<<pageShift - size
		if a.l.goMinor >= 25 && s.elemsize >= 16 && len(b) > 0 && b[len(b)-1] == s.class {
			lo -= inlineMarkBytes
		}
		if lo < at[i].addr || lo+size > at[i].addr+uint64(len(b)) {
			return
		}
		s.bits = append([]byte(nil), b[lo-at[i].addr:lo-at[i].addr+size]...)
		s.scan = scanBits
	})
	if a.l.ptrScheme == schemeArena {
		// Every piece of a span's bits must have been read.
		got := map[int]int{}
		for _, b := range at {
			got[b.span] += b.n
		}
		for i := range h.spans {
			s := &h.spans[i]
			if s.bits != nil && !bad[i] && got[i] >= len(s.bits) {
				s.scan = scanBits
			} else {
				s.bits = nil
			}
		}
	}
}

// gcType is what the garbage collector reads of a type to scan an object of it: its
// size, how many of its first bytes may hold pointers, and one bit per word of those.
type gcType struct {
	size, ptrBytes uint64
	mask           []byte
}

// gcType reads the type descriptor at run-time address typ from the executable; nil when
// it is not one of the module's types or its bitmap is not a plain bitmap there.
func (n *typeNamer) gcType(typ uint64) *gcType {
	if t, ok := n.gcTypes[typ]; ok {
		return t
	}
	t := n.readGCType(typ)
	if len(n.gcTypes) < 1<<16 {
		n.gcTypes[typ] = t
	}
	return t
}

func (n *typeNamer) readGCType(typ uint64) *gcType {
	if n.open() == nil || typ < n.bias {
		return nil
	}
	h := n.typeHeader(typ - n.bias)
	if h == nil || h.size == 0 {
		return nil
	}
	t := &gcType{size: h.size, ptrBytes: h.ptrBytes}
	if t.ptrBytes == 0 {
		return t
	}
	t.mask = make([]byte, (t.ptrBytes/8+7)/8)
	budget := maxMaskWork
	if !n.buildMask(h, t.mask, 0, 0, &budget) {
		return nil
	}
	return t
}

// Kinds of types (abi.Kind, Go 1.20+) whose masks buildMask builds from their parts.
const (
	kindArray  = 17
	kindStruct = 25
	kindMask   = 1<<5 - 1
	// abi.ArrayType's Elem and Len, abi.StructType's Fields (data, len), after the
	// 48-byte abi.Type; abi.StructField's Typ and Offset in its 24 bytes (64-bit).
	arrayElem, arrayLen, structFields, structNFields = 48, 64, 56, 64
	fieldSize, fieldTyp, fieldOffset                 = 24, 8, 16
	maxMaskWork                                      = 1 << 20 // types visited to build one mask
	maxFields                                        = 1 << 16
)

// typeHdr is a type descriptor's header as the executable file has it.
type typeHdr struct {
	raw            []byte
	size, ptrBytes uint64
	kind, tflag    uint64
}

// typeHeader reads the descriptor at link-time address link: nil when it is not one of
// the module's types or does not make sense.
func (n *typeNamer) typeHeader(link uint64) *typeHdr {
	l := n.l
	if link%8 != 0 || l.types == 0 || l.etypes <= l.types || link < l.types || link >= l.etypes || l.typeStr.off != 40 {
		return nil
	}
	raw := n.read(link, arrayLen+8)
	if len(raw) < 48 {
		return nil
	}
	h := &typeHdr{raw: raw, size: word(raw, l.typeSize), ptrBytes: word(raw, l.typePtrBytes), kind: word(raw, l.typeKind), tflag: word(raw, l.typeTflag)}
	if h.size > maxTypeBytes || h.ptrBytes > h.size || h.ptrBytes%8 != 0 || (h.ptrBytes > 0 && h.size%8 != 0) {
		return nil
	}
	return h
}

// buildMask sets in mask, from bit on, the pointer bits of the type h, as the runtime's
// buildGCMask (Go 1.24+) does for a type whose mask is built on demand: from its array
// element's or its fields' masks. It reports false when a part cannot be read.
func (n *typeNamer) buildMask(h *typeHdr, mask []byte, bit uint64, depth int, budget *int) bool {
	l := n.l
	if h.ptrBytes == 0 {
		return true
	}
	if *budget--; *budget <= 0 || depth > 64 || bit+h.ptrBytes/8 > uint64(len(mask))*8 {
		return false
	}
	if l.goMinor < 24 && h.kind&kindGCProg != 0 {
		return false // a GC program: unrolled at run time, outside the executable
	}
	if l.goMinor < 24 || h.tflag&tflagGCOnDemand == 0 {
		nbits := h.ptrBytes / 8
		src := n.read(word(h.raw, l.typeGC), int((nbits+7)/8))
		if uint64(len(src)) < (nbits+7)/8 {
			return false
		}
		for i := uint64(0); i < nbits; i++ {
			if src[i/8]>>(i%8)&1 != 0 {
				mask[(bit+i)/8] |= 1 << ((bit + i) % 8)
			}
		}
		return true
	}
	switch h.kind & kindMask {
	case kindArray:
		e := n.typeHeader(word(h.raw, field{arrayElem, 8}))
		count := word(h.raw, field{arrayLen, 8})
		if e == nil || count*e.size > h.size {
			return false
		}
		for i := uint64(0); i < count && e.ptrBytes > 0; i++ {
			if !n.buildMask(e, mask, bit+i*e.size/8, depth+1, budget) {
				return false
			}
		}
		return true
	case kindStruct:
		count := word(h.raw, field{structNFields, 8})
		if count > maxFields {
			return false
		}
		fs := n.read(word(h.raw, field{structFields, 8}), int(count)*fieldSize)
		if len(fs) < int(count)*fieldSize {
			return false
		}
		for i := 0; i < int(count); i++ {
			f := fs[i*fieldSize:]
			ft, off := n.typeHeader(word(f, field{fieldTyp, 8})), word(f, field{fieldOffset, 8})
			if ft == nil || off+ft.size > h.size {
				return false
			}
			if !n.buildMask(ft, mask, bit+off/8, depth+1, budget) {
				return false
			}
		}
		return true
	}
	return false
}

// open opens the executable on first use.
func (n *typeNamer) open() *elf.File {
	if !n.opened {
		n.f, _ = elf.Open(n.exe)
		n.opened = true
	}
	return n.f
}
