package gstruct

import (
	"cmp"
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"slices"

	"github.com/gorigin-dev/gorigin/dbg"
)

// ErrNoHeapLayout is returned (wrapped) by Runtime.Heap when the executable carries
// neither the runtime's heap variables (runtime.mheap_ and the like: symbols, or a debug
// file) nor a layout of its heap structures (DWARF, or a built-in layout).
var ErrNoHeapLayout = dbg.NewInputError("the runtime's heap layout is unknown")

// Field is where one value lives in a runtime structure: byte offset and size (0: the
// field does not exist in this Go version).
type Field struct{ Off, Size int }

// OK says whether the field exists.
func (f Field) OK() bool { return f.Size > 0 }

// BlockLayout is a runtime list of fixed-size blocks outside the heap (finBlock,
// cleanupBlock): a block's size, its link to the next block and its count of entries in
// use, and where the entries start and how large one is. Size 0: no such list.
type BlockLayout struct {
	Size           int
	Alllink, Count Field
	Arr, Elem      int
}

// HeapLayout is what package leaks reads of the runtime's heap, scheduler and queues, as
// one Go version lays it out: from the executable's DWARF, or built in per release
// (layouts_generated.go). Fields are leaves: a field that is a struct around one word
// (mspan.state, sudog.c) is the word.
type HeapLayout struct {
	Allspans Field // mheap.allspans, the slice header's first word

	SpanSize                                         int
	StartAddr, Npages, Nelems, Elemsize, Limit       Field // runtime.mspan
	Freeindex, AllocBits, Specials, State, Spanclass Field
	SpanInUse                                        int // runtime.mSpanInUse
	SpecialNext, SpecialOffset, SpecialKind          Field
	KindFinalizer, KindCleanup                       int // runtime._KindSpecial*; 0: none
	SudogSize                                        int
	SudogG, SudogElem, SudogWaitlink, SudogC         Field
	GWaiting                                         Field // runtime.g.waiting
	HchanElemtype, HchanElemsize                     Field
	MSize                                            int
	MG0, MGsignal, MAlllink                          Field
	PWbBuf                                           Field // p.wbBuf, whole
	FinBlock, CleanupBlock                           BlockLayout
	CleanupAll                                       Field // cleanupQueue.all
	SemtableSize                                     int   // sizeof(runtime.semtable)
	TypeTflag, TypeStr                               Field // abi.Type (runtime._type)
	// The pointer maps of heap objects (see package leaks): abi.Type's size, pointer
	// bytes, kind and GC bitmap; mspan.largeType (Go 1.22+, a large object's type);
	// mheap.arenas (its first entry: the second-level array of heapArena pointers) and
	// heapArena.bitmap, whole (Go 1.20-1.21: one bit per heap word).
	TypeSize, TypePtrBytes, TypeKind, TypeGCData Field
	SpanLargeType, Arenas, ArenaBitmap           Field
}

// Heap is the heap layout and where the runtime's heap variables are in one executable.
type Heap struct {
	HeapLayout
	// Link-time addresses (add the load bias); 0: not found (optional ones only).
	Mheap, Allm, Allp, Semtable, Allfin, GcCleanups uint64
	Types, Etypes                                   uint64 // runtime.types, runtime.etypes: the type descriptors
	// The pointer maps of .data and .bss, as GC programs: [Data, Edata) described by
	// the GcdataSize bytes at Gcdata, [Bss, Ebss) by those at Gcbss (0: unknown).
	Data, Edata, Bss, Ebss, Gcdata, GcdataSize, Gcbss, GcbssSize uint64
	Gwaiting, Gleaked                                            uint32
	HasGleaked                                                   bool
	GStatus, GWaitreason, GStackLo, GStackHi                     Field // runtime.g's
}

// Heap says where package leaks finds the runtime's heap: the layout (DWARF or built in)
// and the variables (symbols, from the executable or its debug file). It fails, wrapping
// ErrNoHeapLayout, when either is missing.
func (r *Runtime) Heap() (*Heap, error) {
	if !r.l.heap.Allspans.OK() || !r.l.heap.StartAddr.OK() || !r.l.heap.SudogG.OK() {
		return nil, dbg.Errorf(ErrNoHeapLayout, "%s (%s) has no DWARF describing runtime.mheap, and no built-in layout covers its Go version: rebuild it without -ldflags=-w or give --debug-file", r.exe, r.goVersion)
	}
	if r.vars.Mheap == 0 && r.found {
		r.varsOnce.Do(r.heapVarsFromCode)
	}
	if r.vars.Mheap == 0 {
		why := "it has no symbol table"
		if r.varsErr != nil {
			why = fmt.Sprintf("it has no symbol table, and its machine code did not say where they are (%v)", r.varsErr)
		}
		return nil, fmt.Errorf("%s: gorigin does not know where runtime.mheap_ and the other heap variables are: %s: rebuild it without -ldflags=-s or give its debug file (--debug-file): %w", r.exe, why, ErrNoHeapLayout)
	}
	h := &Heap{HeapLayout: r.l.heap}
	v := r.vars
	h.Mheap, h.Allm, h.Allp, h.Semtable, h.Allfin, h.GcCleanups = v.Mheap, v.Allm, v.Allp, v.Semtable, v.Allfin, v.GcCleanups
	h.Types, h.Etypes = v.Types, v.Etypes
	h.Data, h.Edata, h.Bss, h.Ebss, h.Gcdata, h.GcdataSize, h.Gcbss, h.GcbssSize = v.Data, v.Edata, v.Bss, v.Ebss, v.Gcdata, v.GcdataSize, v.Gcbss, v.GcbssSize
	if v.SemtableSize > 0 {
		h.SemtableSize = int(v.SemtableSize)
	}
	h.Gwaiting = r.l.gwaiting
	h.GStatus, h.GWaitreason = Field{r.l.status.off, r.l.status.size}, Field{r.l.waitreason.off, r.l.waitreason.size}
	h.GStackLo, h.GStackHi = Field{r.l.stackLo.off, r.l.stackLo.size}, Field{r.l.stackHi.off, r.l.stackHi.size}
	for v, name := range r.l.statuses {
		if name == "leaked" {
			h.Gleaked, h.HasGleaked = v, true
		}
	}
	return h, nil
}

// heapVarsFromCode finds the heap's variables in the machine code of an executable
// without symbols (findHeapVars): only leaks needs them, so an attach does not pay for it.
func (r *Runtime) heapVarsFromCode() {
	f, err := elf.Open(r.exe)
	if err != nil {
		r.varsErr = err
		return
	}
	defer f.Close()
	c, err := newCodeScanner(f)
	if err != nil {
		r.varsErr = err
		return
	}
	r.vars, r.varsErr = findHeapVars(c)
}

// heapVars are the link-time addresses of the runtime's heap variables, by symbol.
type heapVars struct {
	Mheap, Allm, Allp, Semtable, SemtableSize, Allfin, GcCleanups uint64
	Types, Etypes                                                 uint64 // runtime.types: type names are at offsets from it
	Data, Edata, Bss, Ebss, Gcdata, GcdataSize, Gcbss, GcbssSize  uint64 // the GC programs of .data and .bss
}

func (v *heapVars) take(s elf.Symbol) {
	switch s.Name {
	case "runtime.mheap_":
		v.Mheap = s.Value
	case "runtime.allm":
		v.Allm = s.Value
	case "runtime.allp":
		v.Allp = s.Value
	case "runtime.semtable":
		v.Semtable, v.SemtableSize = s.Value, s.Size
	case "runtime.allfin":
		v.Allfin = s.Value
	case "runtime.gcCleanups":
		v.GcCleanups = s.Value
	case "runtime.types":
		v.Types = s.Value
	case "runtime.etypes":
		v.Etypes = s.Value
	case "runtime.data":
		v.Data = s.Value
	case "runtime.edata":
		v.Edata = s.Value
	case "runtime.bss":
		v.Bss = s.Value
	case "runtime.ebss":
		v.Ebss = s.Value
	case "runtime.gcdata":
		v.Gcdata, v.GcdataSize = s.Value, s.Size
	case "runtime.gcbss":
		v.Gcbss, v.GcbssSize = s.Value, s.Size
	}
}

// Names of the DWARF types the heap layout reads.
var heapTypes = []string{
	"runtime.mheap", "runtime.mspan", "runtime.sudog", "runtime.special", "runtime.hchan",
	"runtime.p", "runtime.m", "runtime.finblock", "runtime.finBlock", "runtime.cleanupBlock",
	"runtime.cleanupQueue", "runtime._type", "internal/abi.Type", "runtime.heapArena",
}

// heapFromDWARF reads the heap layout from DWARF. What is missing stays zero: gstruct's
// own decoding needs none of it, and Runtime.Heap says what leaks cannot do without.
func heapFromDWARF(d *dwarf.Data, ix *dwarfIndex) HeapLayout {
	var h HeapLayout
	st := func(name string) *dwarf.StructType {
		s, err := ix.structType(d, name)
		if err != nil {
			return nil
		}
		return s
	}
	leaf := func(dst *Field, s *dwarf.StructType, path string) {
		if s != nil {
			if f, err := LeafAt(s, path); err == nil {
				*dst = f
			}
		}
	}
	if s := st("runtime.mheap"); s != nil {
		leaf(&h.Allspans, s, "allspans")
	}
	if s := st("runtime.mspan"); s != nil {
		h.SpanSize = int(s.ByteSize)
		for _, w := range []struct {
			dst  *Field
			path string
		}{
			{&h.StartAddr, "startAddr"}, {&h.Npages, "npages"}, {&h.Nelems, "nelems"},
			{&h.Elemsize, "elemsize"}, {&h.Limit, "limit"}, {&h.Freeindex, "freeindex"},
			{&h.AllocBits, "allocBits"}, {&h.Specials, "specials"}, {&h.State, "state"},
			{&h.Spanclass, "spanclass"}, {&h.SpanLargeType, "largeType"},
		} {
			leaf(w.dst, s, w.path)
		}
	}
	if s := st("runtime.mheap"); s != nil {
		if off, t, err := MemberAt(s, "arenas"); err == nil && t.Size() == 8 {
			h.Arenas = Field{off, 8} // [1]*[1 << arenaL2Bits]*heapArena: 64-bit Linux
		}
	}
	if s := st("runtime.heapArena"); s != nil {
		for _, path := range []string{"bitmap", "heapArenaPtrScalar.bitmap"} {
			if off, t, err := MemberAt(s, path); err == nil && t.Size() > 0 {
				h.ArenaBitmap = Field{off, int(t.Size())}
				break
			}
		}
	}
	if s := st("runtime.special"); s != nil {
		leaf(&h.SpecialNext, s, "next")
		leaf(&h.SpecialOffset, s, "offset")
		leaf(&h.SpecialKind, s, "kind")
	}
	if s := st("runtime.sudog"); s != nil {
		h.SudogSize = int(s.ByteSize)
		leaf(&h.SudogG, s, "g")
		leaf(&h.SudogElem, s, "elem")
		leaf(&h.SudogWaitlink, s, "waitlink")
		leaf(&h.SudogC, s, "c")
	}
	if s := st(typeG); s != nil {
		leaf(&h.GWaiting, s, "waiting")
	}
	if s := st("runtime.hchan"); s != nil {
		leaf(&h.HchanElemtype, s, "elemtype")
		leaf(&h.HchanElemsize, s, "elemsize")
	}
	if s := st("runtime.m"); s != nil {
		h.MSize = int(s.ByteSize)
		leaf(&h.MG0, s, "g0")
		leaf(&h.MGsignal, s, "gsignal")
		leaf(&h.MAlllink, s, "alllink")
	}
	if s := st("runtime.p"); s != nil {
		if off, t, err := MemberAt(s, "wbBuf"); err == nil && t.Size() > 0 {
			h.PWbBuf = Field{off, int(t.Size())}
		}
	}
	fb := st("runtime.finBlock") // Go 1.25+
	if fb == nil {
		fb = st("runtime.finblock")
	}
	h.FinBlock = blockLayoutFrom(fb, "alllink", "cnt", "fin")
	if q := st("runtime.cleanupQueue"); q != nil {
		if b := blockLayoutFrom(st("runtime.cleanupBlock"), "cleanupBlockHeader.alllink", "cleanupBlockHeader.n", "cleanups"); b.Size > 0 {
			leaf(&h.CleanupAll, q, "all")
			if h.CleanupAll.OK() {
				h.CleanupBlock = b
			}
		}
	}
	typ := st("internal/abi.Type") // Go 1.21+
	if typ == nil {
		typ = st("runtime._type")
	}
	if typ != nil {
		leaf(&h.TypeTflag, typ, "TFlag")
		if !h.TypeTflag.OK() {
			leaf(&h.TypeTflag, typ, "tflag")
		}
		leaf(&h.TypeStr, typ, "Str")
		if !h.TypeStr.OK() {
			leaf(&h.TypeStr, typ, "str")
		}
		for _, w := range []struct {
			dst      *Field
			new, old string
		}{
			{&h.TypeSize, "Size_", "size"}, {&h.TypePtrBytes, "PtrBytes", "ptrdata"},
			{&h.TypeKind, "Kind_", "kind"}, {&h.TypeGCData, "GCData", "gcdata"},
		} {
			if leaf(w.dst, typ, w.new); !w.dst.OK() {
				leaf(w.dst, typ, w.old)
			}
		}
	}
	if t, ok := ix.vars["runtime.semtable"]; ok {
		if typ, err := d.Type(t); err == nil && typ.Size() > 0 {
			h.SemtableSize = int(typ.Size())
		}
	}
	h.SpanInUse = 1 // mSpanInUse in every release
	if v, ok := ix.consts["runtime.mSpanInUse"]; ok {
		h.SpanInUse = int(v)
	}
	h.KindFinalizer = 1 // _KindSpecialFinalizer in every release
	if v, ok := ix.consts["runtime._KindSpecialFinalizer"]; ok {
		h.KindFinalizer = int(v)
	}
	if v, ok := ix.consts["runtime._KindSpecialCleanup"]; ok {
		h.KindCleanup = int(v)
	}
	return h
}

// blockLayoutFrom reads a block list's layout from the block's struct (zero when st is
// nil or does not look like one).
func blockLayoutFrom(st *dwarf.StructType, link, count, arr string) BlockLayout {
	if st == nil {
		return BlockLayout{}
	}
	b := BlockLayout{Size: int(st.ByteSize)}
	var err1, err2 error
	b.Alllink, err1 = LeafAt(st, link)
	b.Count, err2 = LeafAt(st, count)
	off, t, err3 := MemberAt(st, arr)
	at, ok := t.(*dwarf.ArrayType)
	if err1 != nil || err2 != nil || err3 != nil || !ok || at.Type.Size() <= 0 || off >= b.Size {
		return BlockLayout{}
	}
	b.Arr, b.Elem = off, int(at.Type.Size())
	return b
}

// LeafAt finds a dotted member path in st (MemberAt) and then descends into the member's
// type while it is a struct, to the word that holds its value: mspan.state is a struct
// around a uint8, sudog.c (Go 1.26+) a struct whose source of truth is its member vu.
func LeafAt(st *dwarf.StructType, path string) (Field, error) {
	off, cur, err := MemberAt(st, path)
	if err != nil {
		return Field{}, err
	}
	for depth := 0; depth < 8; depth++ {
		s, ok := cur.(*dwarf.StructType)
		if !ok {
			break
		}
		// maybeTraceablePtr's vu holds the address even when vp is hidden; otherwise the
		// first member with a size.
		name := ""
		for _, f := range s.Field {
			if f.Name == "vu" || f.Name == "maybeTraceablePtr" {
				name = f.Name
				break
			}
			if name == "" && f.Type.Size() > 0 {
				name = f.Name
			}
		}
		if name == "" {
			return Field{}, fmt.Errorf("member %s: empty struct", path)
		}
		o, t, err := MemberAt(s, name)
		if err != nil {
			return Field{}, err
		}
		off, cur = off+o, t
	}
	size := int(cur.Size())
	if size <= 0 || size > 8 {
		return Field{}, fmt.Errorf("member %s: size %d is not a word", path, size)
	}
	return Field{off, size}, nil
}

// dataSym is a variable of the executable's symbol table: link-time address, size, name.
type dataSym struct {
	addr, size uint64
	name       string
}

// maxDataSyms bounds the variables kept for DataSymbol; maxSymName a name's length.
const (
	maxDataSyms = 1 << 20
	maxSymName  = 512
)

// takeDataSyms keeps the symbol table's variables, sorted, for DataSymbol.
func (r *Runtime) takeDataSyms(syms []elf.Symbol) {
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_OBJECT || s.Size == 0 || len(r.dataSyms) >= maxDataSyms {
			continue
		}
		name := s.Name
		if len(name) > maxSymName {
			name = name[:maxSymName]
		}
		r.dataSyms = append(r.dataSyms, dataSym{s.Value, s.Size, name})
	}
	slices.SortFunc(r.dataSyms, func(a, b dataSym) int { return cmp.Compare(a.addr, b.addr) })
}

// DataSymbol names the variable holding the link-time address addr ("main.mu") and the
// offset of addr in it, from the symbol table of the executable or its debug file.
func (r *Runtime) DataSymbol(addr uint64) (name string, off uint64, ok bool) {
	i, _ := slices.BinarySearchFunc(r.dataSyms, addr, func(s dataSym, a uint64) int {
		if s.addr <= a {
			return -1
		}
		return 1
	})
	if i--; i < 0 || addr-r.dataSyms[i].addr >= r.dataSyms[i].size {
		return "", 0, false
	}
	return r.dataSyms[i].name, addr - r.dataSyms[i].addr, true
}
