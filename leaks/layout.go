package leaks

import (
	"debug/elf"
	"fmt"

	"github.com/gorigin-dev/gorigin/gstruct"
	"github.com/gorigin-dev/gorigin/internal/goversion"
)

// ErrNoDWARF is returned (wrapped) by Analyze and Begin when gorigin does not know the
// layout of the target's heap: an executable without symbols (and without a debug file),
// or without DWARF from a Go release newer than the built-in layouts.
var ErrNoDWARF = gstruct.ErrNoHeapLayout

// field is one member of a runtime struct: byte offset and size (0: absent).
type field struct{ off, size int }

func (f field) ok() bool { return f.size > 0 }

// layout is what the analysis needs to know about the target's runtime, from gstruct (the
// DWARF of the executable or its debug file, or the built-in layout of its Go version, and
// the symbols) and the executable's segments. Addresses are link-time (add the load bias).
type layout struct {
	mheap, semtable, semtableSize uint64 // runtime.mheap_, runtime.semtable
	allspans                      field  // mheap.allspans (a slice: data, len)

	spanSize                                 int
	startAddr, npages, nelems, elemsize      field
	limit, freeindex, allocBits, specials    field
	state                                    field
	spanclass                                field // mspan.spanclass: its low bit is noscan
	spanInUse                                uint64
	specialNext, specialOffset, specialKind  field
	specialRootKinds                         map[uint64]bool // finalizer and cleanup
	sudogSize                                int
	sudogG, sudogElem, sudogWaitlink, sudogC field
	gWaiting, gStatus, gWaitreason           field
	gStackLo, gStackHi                       field // g.stack: bounds, not pointers
	gwaiting, gleaked                        uint64
	hasGLeaked                               bool
	writable                                 []elf.ProgHeader // PT_LOAD segments with PF_W
	pointerful                               [][2]uint64      // .data and .bss: the globals that may hold pointers
	allp                                     uint64           // runtime.allp
	allm                                     uint64           // runtime.allm
	mG0, mGsignal, mAlllink                  field
	mSize                                    int
	pWbBuf                                   field // p.wbBuf, whole: stale pointers the write barrier recorded
	elemtype, elemsize16                     field // hchan.elemtype, hchan.elemsize
	// Queues of finalizers and cleanups waiting to run: the runtime's own roots
	// (allfin; gcCleanups.all, Go 1.25+), outside the heap.
	finalizerQueue, cleanupQueue blockList
	// abi.Type's tflag and name offset, and runtime.types (names are at offsets from
	// it): to name a channel's element type.
	typeTflag, typeStr field
	types              uint64
	amd64              bool // the frame layout preciseStack knows
	// The heap objects' pointer maps (heapbits.go): which scheme the target's runtime
	// uses, abi.Type's fields, mspan.largeType, mheap.arenas, heapArena.bitmap, the
	// module's type descriptors [types, etypes) and the Go minor version.
	ptrScheme                                int
	typeSize, typePtrBytes, typeKind, typeGC field
	spanLargeType, arenas, arenaBitmap       field
	etypes                                   uint64
	goMinor                                  int
	arenaBaseOffset                          uint64
	// globalPtrs are the words of .data and .bss that hold pointers, merged into ranges
	// (link-time), from the linker's GC programs; nil: scan pointerful whole.
	globalPtrs [][2]uint64
}

// blockList is a runtime list of fixed-size blocks outside the heap, each holding count
// entries of an array that the garbage collector scans as a root.
type blockList struct {
	name           string // what the entries are, to explain a path
	head           uint64 // link-time address of the word pointing to the first block
	size           int    // a block's size
	alllink, count field  // the link to the next block, the number of entries in use
	arr, elem      int    // offset of the entries in a block and the size of one
}

func fieldOf(f gstruct.Field) field { return field{f.Off, f.Size} }

// readLayout takes the layout from rt (gstruct: the one owner of the runtime's offsets)
// and the writable segments and sections from the executable at path.
func readLayout(path string, rt *gstruct.Runtime) (*layout, error) {
	h, err := rt.Heap()
	if err != nil {
		return nil, err
	}
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open executable: %w", err)
	}
	defer f.Close()
	l := &layout{
		mheap: h.Mheap, semtable: h.Semtable, semtableSize: uint64(h.SemtableSize),
		allspans: fieldOf(h.Allspans), spanSize: h.SpanSize,
		startAddr: fieldOf(h.StartAddr), npages: fieldOf(h.Npages), nelems: fieldOf(h.Nelems),
		elemsize: fieldOf(h.Elemsize), limit: fieldOf(h.Limit), freeindex: fieldOf(h.Freeindex),
		allocBits: fieldOf(h.AllocBits), specials: fieldOf(h.Specials), state: fieldOf(h.State),
		spanclass: fieldOf(h.Spanclass), spanInUse: uint64(h.SpanInUse),
		specialNext: fieldOf(h.SpecialNext), specialOffset: fieldOf(h.SpecialOffset), specialKind: fieldOf(h.SpecialKind),
		specialRootKinds: map[uint64]bool{uint64(h.KindFinalizer): true},
		sudogSize:        h.SudogSize, sudogG: fieldOf(h.SudogG), sudogElem: fieldOf(h.SudogElem),
		sudogWaitlink: fieldOf(h.SudogWaitlink), sudogC: fieldOf(h.SudogC),
		gWaiting: fieldOf(h.GWaiting), gStatus: fieldOf(h.GStatus), gWaitreason: fieldOf(h.GWaitreason), gStackLo: fieldOf(h.GStackLo), gStackHi: fieldOf(h.GStackHi),
		gwaiting: uint64(h.Gwaiting), gleaked: uint64(h.Gleaked), hasGLeaked: h.HasGleaked,
		allp: h.Allp, allm: h.Allm,
		mG0: fieldOf(h.MG0), mGsignal: fieldOf(h.MGsignal), mAlllink: fieldOf(h.MAlllink), mSize: h.MSize,
		pWbBuf: fieldOf(h.PWbBuf), elemtype: fieldOf(h.HchanElemtype), elemsize16: fieldOf(h.HchanElemsize),
		typeTflag: fieldOf(h.TypeTflag), typeStr: fieldOf(h.TypeStr), types: h.Types,
	}
	l.typeSize, l.typePtrBytes, l.typeKind, l.typeGC = fieldOf(h.TypeSize), fieldOf(h.TypePtrBytes), fieldOf(h.TypeKind), fieldOf(h.TypeGCData)
	l.spanLargeType, l.arenas, l.arenaBitmap = fieldOf(h.SpanLargeType), fieldOf(h.Arenas), fieldOf(h.ArenaBitmap)
	l.etypes, l.goMinor = h.Etypes, int(goversion.Parse(rt.GoVersion()))
	if h.KindCleanup != 0 {
		l.specialRootKinds[uint64(h.KindCleanup)] = true
	}
	if b := h.FinBlock; b.Size > 0 && h.Allfin != 0 {
		l.finalizerQueue = blockList{name: "finalizers queued to run", head: h.Allfin, size: b.Size,
			alllink: fieldOf(b.Alllink), count: fieldOf(b.Count), arr: b.Arr, elem: b.Elem}
	}
	if b := h.CleanupBlock; b.Size > 0 && h.GcCleanups != 0 {
		l.cleanupQueue = blockList{name: "cleanups queued to run", head: h.GcCleanups + uint64(h.CleanupAll.Off), size: b.Size,
			alllink: fieldOf(b.Alllink), count: fieldOf(b.Count), arr: b.Arr, elem: b.Elem}
	}
	l.amd64 = f.Machine == elf.EM_X86_64
	l.ptrScheme = pointerScheme(l, f.Machine)
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_W != 0 && p.Memsz > 0 {
			l.writable = append(l.writable, p.ProgHeader)
		}
	}
	for _, name := range []string{".data", ".bss"} {
		if sec := f.Section(name); sec != nil && sec.Size > 0 {
			l.pointerful = append(l.pointerful, [2]uint64{sec.Addr, sec.Addr + sec.Size})
		}
	}
	l.globalPtrs = globalPointers(f, h)
	if len(l.pointerful) == 0 { // no section headers: scan every writable segment
		for _, p := range l.writable {
			l.pointerful = append(l.pointerful, [2]uint64{p.Vaddr, p.Vaddr + p.Memsz})
		}
	}
	return l, nil
}

// word decodes the little-endian unsigned integer of f in b (0 when it does not fit).
func word(b []byte, f field) uint64 {
	if f.size <= 0 || f.off < 0 || f.off+f.size > len(b) {
		return 0
	}
	var v uint64
	for i := f.size - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[f.off+i])
	}
	return v
}

// maxGlobalWords bounds the words of .data or .bss a GC program may describe.
const maxGlobalWords = 1 << 28

// globalPointers runs the GC programs of .data and .bss (read from the executable) into
// the ranges of words that hold pointers, as the garbage collector scans them; nil when
// either is missing or does not run.
func globalPointers(f *elf.File, h *gstruct.Heap) [][2]uint64 {
	var out [][2]uint64
	for _, sec := range []struct{ lo, hi, prog, size uint64 }{
		{h.Data, h.Edata, h.Gcdata, h.GcdataSize},
		{h.Bss, h.Ebss, h.Gcbss, h.GcbssSize},
	} {
		if sec.prog == 0 || sec.size == 0 || sec.size > 1<<24 || sec.hi < sec.lo {
			return nil
		}
		prog := make([]byte, sec.size)
		read := false
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD && sec.prog >= p.Vaddr && sec.prog+sec.size <= p.Vaddr+p.Filesz {
				_, err := p.ReadAt(prog, int64(sec.prog-p.Vaddr))
				read = err == nil
			}
		}
		words := int((sec.hi - sec.lo) / 8)
		if !read || words > maxGlobalWords {
			return nil
		}
		bits, err := gcProgBits(prog, words+64)
		if err != nil || len(bits) < words {
			return nil
		}
		for i := 0; i < words; i++ {
			if !bits[i] {
				continue
			}
			at := sec.lo + uint64(i)*8
			if n := len(out); n > 0 && out[n-1][1] == at {
				out[n-1][1] = at + 8
			} else {
				out = append(out, [2]uint64{at, at + 8})
			}
		}
	}
	return out
}
