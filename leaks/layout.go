package leaks

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"strings"

	"github.com/gorigin-dev/gorigin/gstruct"
)

// ErrNoDWARF is returned (wrapped) by Analyze for an executable without DWARF: the
// layouts of the runtime's heap structures are not built into gorigin.
var ErrNoDWARF = errors.New("leak analysis needs the executable's DWARF (rebuild without -ldflags=-w)")

// field is one member of a runtime struct: byte offset and size (0: absent).
type field struct{ off, size int }

func (f field) ok() bool { return f.size > 0 }

// layout is what the analysis needs to know about the target's runtime, from its DWARF
// and ELF symbols. Addresses are link-time (add the load bias).
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

// blockListFrom reads a blockList's layout from the block's struct; the caller sets head.
func blockListFrom(st *dwarf.StructType, name, link, count, arr string) (blockList, bool) {
	b := blockList{name: name, size: int(st.ByteSize)}
	var err1, err2 error
	b.alllink, err1 = leafAt(st, link)
	b.count, err2 = leafAt(st, count)
	off, t, err3 := gstruct.MemberAt(st, arr)
	at, ok := t.(*dwarf.ArrayType)
	if err1 != nil || err2 != nil || err3 != nil || !ok || at.Type.Size() <= 0 {
		return blockList{}, false
	}
	b.arr, b.elem = off, int(at.Type.Size())
	return b, b.arr < b.size
}

// readLayout reads the layout from the executable at path.
func readLayout(path string) (*layout, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open executable: %w", err)
	}
	defer f.Close()
	l := &layout{spanInUse: 1, specialRootKinds: map[uint64]bool{}}
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
	if len(l.pointerful) == 0 { // no section headers: scan every writable segment
		for _, p := range l.writable {
			l.pointerful = append(l.pointerful, [2]uint64{p.Vaddr, p.Vaddr + p.Memsz})
		}
	}
	syms, _ := f.Symbols()
	for _, s := range syms {
		switch s.Name {
		case "runtime.mheap_":
			l.mheap = s.Value
		case "runtime.allm":
			l.allm = s.Value
		case "runtime.allp":
			l.allp = s.Value
		case "runtime.semtable":
			l.semtable, l.semtableSize = s.Value, s.Size
		case "runtime.allfin":
			l.finalizerQueue.head = s.Value
		case "runtime.gcCleanups":
			l.cleanupQueue.head = s.Value
		}
	}
	if l.mheap == 0 {
		return nil, fmt.Errorf("%s has no runtime.mheap_ symbol: %w", path, ErrNoDWARF)
	}
	if f.Section(".debug_info") == nil && f.Section(".zdebug_info") == nil {
		return nil, fmt.Errorf("%s: %w", path, ErrNoDWARF)
	}
	d, err := f.DWARF()
	if err != nil {
		return nil, fmt.Errorf("read DWARF of %s: %w", path, err)
	}
	if err := l.fromDWARF(d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// Wanted DWARF structs.
var wantedTypes = map[string]bool{
	"runtime.mheap": true, "runtime.mspan": true, "runtime.sudog": true,
	"runtime.g": true, "runtime.special": true, "runtime.hchan": true, "runtime.p": true,
	"runtime.m": true, "runtime.finblock": true, "runtime.finBlock": true,
	"runtime.cleanupBlock": true, "runtime.cleanupQueue": true,
}

func (l *layout) fromDWARF(d *dwarf.Data) error {
	types := map[string]dwarf.Offset{}
	consts := map[string]int64{}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return fmt.Errorf("read DWARF: %w", err)
		}
		if e == nil {
			break
		}
		if e.Tag == dwarf.TagCompileUnit {
			continue
		}
		if e.Children {
			r.SkipChildren()
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		switch e.Tag {
		case dwarf.TagConstant:
			if strings.HasPrefix(name, "runtime.") {
				switch v := e.Val(dwarf.AttrConstValue).(type) {
				case int64:
					consts[name] = v
				case uint64:
					consts[name] = int64(v)
				}
			}
		case dwarf.TagStructType:
			if wantedTypes[name] {
				if _, seen := types[name]; !seen {
					types[name] = e.Offset
				}
			}
		}
	}
	st := func(name string) (*dwarf.StructType, error) {
		off, ok := types[name]
		if !ok {
			return nil, fmt.Errorf("DWARF has no type %s", name)
		}
		t, err := d.Type(off)
		if err != nil {
			return nil, fmt.Errorf("DWARF type %s: %w", name, err)
		}
		s, ok := t.(*dwarf.StructType)
		if !ok || s.ByteSize <= 0 {
			return nil, fmt.Errorf("DWARF type %s is not a struct", name)
		}
		return s, nil
	}
	type want struct {
		dst      *field
		typ      string
		path     string
		optional bool
	}
	wants := []want{
		{&l.allspans, "runtime.mheap", "allspans", false},
		{&l.startAddr, "runtime.mspan", "startAddr", false},
		{&l.npages, "runtime.mspan", "npages", false},
		{&l.nelems, "runtime.mspan", "nelems", false},
		{&l.elemsize, "runtime.mspan", "elemsize", false},
		{&l.limit, "runtime.mspan", "limit", false},
		{&l.freeindex, "runtime.mspan", "freeindex", false},
		{&l.allocBits, "runtime.mspan", "allocBits", false},
		{&l.specials, "runtime.mspan", "specials", false},
		{&l.state, "runtime.mspan", "state", false},
		{&l.spanclass, "runtime.mspan", "spanclass", true},
		{&l.specialNext, "runtime.special", "next", false},
		{&l.specialOffset, "runtime.special", "offset", false},
		{&l.specialKind, "runtime.special", "kind", false},
		{&l.sudogG, "runtime.sudog", "g", false},
		{&l.sudogElem, "runtime.sudog", "elem", false},
		{&l.sudogWaitlink, "runtime.sudog", "waitlink", false},
		{&l.sudogC, "runtime.sudog", "c", false},
		{&l.gWaiting, "runtime.g", "waiting", false},
		{&l.gStatus, "runtime.g", "atomicstatus", false},
		{&l.gWaitreason, "runtime.g", "waitreason", false},
		{&l.elemtype, "runtime.hchan", "elemtype", true},
		{&l.elemsize16, "runtime.hchan", "elemsize", true},
	}
	for _, w := range wants {
		s, err := st(w.typ)
		if err != nil {
			if w.optional {
				continue
			}
			return err
		}
		f, err := leafAt(s, w.path)
		if err != nil {
			if w.optional {
				continue
			}
			return fmt.Errorf("DWARF type %s: %w", w.typ, err)
		}
		*w.dst = f
	}
	if m, err := st("runtime.m"); err == nil {
		l.mG0, _ = leafAt(m, "g0")
		l.mGsignal, _ = leafAt(m, "gsignal")
		l.mAlllink, _ = leafAt(m, "alllink")
		l.mSize = int(m.ByteSize)
	}
	if p, err := st("runtime.p"); err == nil {
		if off, t, err := gstruct.MemberAt(p, "wbBuf"); err == nil && t.Size() > 0 {
			l.pWbBuf = field{off, int(t.Size())}
		}
	}
	l.queues(st)
	span, _ := st("runtime.mspan")
	l.spanSize = int(span.ByteSize)
	sudog, _ := st("runtime.sudog")
	l.sudogSize = int(sudog.ByteSize)
	if v, ok := consts["runtime.mSpanInUse"]; ok {
		l.spanInUse = uint64(v)
	}
	for _, k := range []string{"runtime._KindSpecialFinalizer", "runtime._KindSpecialCleanup"} {
		if v, ok := consts[k]; ok {
			l.specialRootKinds[uint64(v)] = true
		}
	}
	if len(l.specialRootKinds) == 0 {
		l.specialRootKinds[1] = true // _KindSpecialFinalizer in every release
	}
	w, ok := consts["runtime._Gwaiting"]
	if !ok {
		return fmt.Errorf("DWARF has no runtime._Gwaiting constant")
	}
	l.gwaiting = uint64(w)
	if v, ok := consts["runtime._Gleaked"]; ok {
		l.gleaked, l.hasGLeaked = uint64(v), true
	}
	return nil
}

// leafAt finds a dotted member path in st (gstruct.MemberAt) and then descends into the
// member's type while it is a struct, to the word that holds its value: mspan.state is a
// struct around a uint8, sudog.c (Go 1.26+) a struct whose source of truth is its member vu.
func leafAt(st *dwarf.StructType, path string) (field, error) {
	off, cur, err := gstruct.MemberAt(st, path)
	if err != nil {
		return field{}, err
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
			return field{}, fmt.Errorf("member %s: empty struct", path)
		}
		o, t, err := gstruct.MemberAt(s, name)
		if err != nil {
			return field{}, err
		}
		off, cur = off+o, t
	}
	size := int(cur.Size())
	if size <= 0 || size > 8 {
		return field{}, fmt.Errorf("member %s: size %d is not a word", path, size)
	}
	return field{off, size}, nil
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

// queues reads the layouts of the finalizer and cleanup queues; a queue whose layout is
// missing (cleanups before Go 1.25) keeps head 0 and is not scanned.
func (l *layout) queues(st func(string) (*dwarf.StructType, error)) {
	fb, err := st("runtime.finBlock") // Go 1.25+
	if err != nil {
		fb, err = st("runtime.finblock")
	}
	head := l.finalizerQueue.head
	l.finalizerQueue = blockList{}
	if err == nil && head != 0 {
		if b, ok := blockListFrom(fb, "finalizers queued to run", "alllink", "cnt", "fin"); ok {
			b.head = head
			l.finalizerQueue = b
		}
	}
	head = l.cleanupQueue.head
	l.cleanupQueue = blockList{}
	cb, err1 := st("runtime.cleanupBlock")
	q, err2 := st("runtime.cleanupQueue")
	if err1 != nil || err2 != nil || head == 0 {
		return
	}
	all, err := leafAt(q, "all")
	if b, ok := blockListFrom(cb, "cleanups queued to run", "cleanupBlockHeader.alllink", "cleanupBlockHeader.n", "cleanups"); ok && err == nil {
		b.head = head + uint64(all.off)
		l.cleanupQueue = b
	}
}
