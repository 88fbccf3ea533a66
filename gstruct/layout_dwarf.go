package gstruct

import (
	"debug/dwarf"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/gorigin-dev/gorigin/internal/goversion"
)

// dwarfIndex is what one pass over the target's DWARF finds: the runtime's constants and
// the offsets of the few types and variables gstruct needs.
type dwarfIndex struct {
	consts map[string]int64        // "runtime._Gwaiting" → 4, and the like
	types  map[string]dwarf.Offset // the first type entry of each wanted name
	vars   map[string]dwarf.Offset // the type of each wanted variable
}

// Names of the DWARF types and variables gstruct looks for.
const (
	typeG        = "runtime.g"
	typeHmap     = "runtime.hmap"
	typeBucket   = "bucket<string,string>"
	typeLabelMap = "runtime/pprof.labelMap"
	varWaitStrs  = "runtime.waitReasonStrings"
)

func indexDWARF(d *dwarf.Data) (*dwarfIndex, error) {
	// Go's linker puts the runtime's constants, variables and every type in units named
	// "runtime": looking at those alone skips most of .debug_info. Should one be missing
	// (another linker), the whole of it is looked at.
	if ix, err := indexUnits(d, true); err != nil || ix.complete() {
		return ix, err
	}
	return indexUnits(d, false)
}

func indexUnits(d *dwarf.Data, runtimeOnly bool) (*dwarfIndex, error) {
	ix := &dwarfIndex{consts: map[string]int64{}, types: map[string]dwarf.Offset{}, vars: map[string]dwarf.Offset{}}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("read DWARF: %w", err)
		}
		if e == nil {
			return ix, nil
		}
		if e.Tag == dwarf.TagCompileUnit {
			if name, _ := e.Val(dwarf.AttrName).(string); runtimeOnly && name != "runtime" {
				r.SkipChildren() // jumps to the next unit
			}
			continue // look at the unit's top-level entries
		}
		if e.Children {
			r.SkipChildren()
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		switch e.Tag {
		case dwarf.TagConstant:
			if strings.HasPrefix(name, "runtime.") {
				if v, ok := constValue(e.Val(dwarf.AttrConstValue)); ok {
					ix.consts[name] = v
				}
			}
		case dwarf.TagVariable:
			if name == varWaitStrs || name == "runtime.semtable" {
				if t, ok := e.Val(dwarf.AttrType).(dwarf.Offset); ok {
					ix.vars[name] = t
				}
			}
		case dwarf.TagStructType, dwarf.TagTypedef:
			if name == typeG || name == typeHmap || name == typeBucket || name == typeLabelMap || slices.Contains(heapTypes, name) {
				if _, seen := ix.types[name]; !seen || e.Tag == dwarf.TagStructType {
					ix.types[name] = e.Offset
				}
			}
		}
	}
}

func constValue(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case uint64:
		return int64(v), true
	}
	return 0, false
}

// maxGSize bounds the size of runtime.g that DWARF may claim: every goroutine's read is
// that large.
const maxGSize = 64 << 10

// layoutFromDWARF fills a layout from the target's DWARF. release is the Go release from
// the build info (0 when unknown), used only where DWARF may not say.
func layoutFromDWARF(d *dwarf.Data, ptrSize int, order binary.ByteOrder, release goversion.Version) (*layout, error) {
	ix, err := indexDWARF(d)
	if err != nil {
		return nil, err
	}
	l := &layout{ptrSize: ptrSize, order: order}

	g, err := ix.structType(d, typeG)
	if err != nil {
		return nil, err
	}
	if g.ByteSize <= 0 || g.ByteSize > maxGSize {
		return nil, fmt.Errorf("DWARF type runtime.g has %d bytes (a real one has about 450): the executable's DWARF is damaged", g.ByteSize)
	}
	l.gSize = int(g.ByteSize)
	type want struct {
		dst      *field
		path     string
		optional bool
	}
	for _, w := range []want{
		{&l.goid, "goid", false},
		{&l.parentGoid, "parentGoid", true}, // Go 1.21+
		{&l.status, "atomicstatus.value", false},
		{&l.waitsince, "waitsince", false},
		{&l.waitreason, "waitreason", false},
		{&l.gopc, "gopc", false},
		{&l.startpc, "startpc", false},
		{&l.stackLo, "stack.lo", false},
		{&l.stackHi, "stack.hi", false},
		{&l.m, "m", false},
		{&l.lockedm, "lockedm", false},
		{&l.labels, "labels", false},
		{&l.schedSP, "sched.sp", false},
		{&l.schedPC, "sched.pc", false},
		{&l.schedBP, "sched.bp", true}, // absent on some architectures
	} {
		f, err := fieldAt(g, w.path)
		if err != nil {
			if w.optional {
				continue
			}
			return nil, fmt.Errorf("DWARF type runtime.g: %w", err)
		}
		if f.off+f.size > l.gSize {
			return nil, fmt.Errorf("DWARF type runtime.g: field %s at %d+%d is outside its %d bytes", w.path, f.off, f.size, l.gSize)
		}
		*w.dst = f
	}

	if err := l.statusesFromConsts(ix.consts); err != nil {
		return nil, err
	}

	if t, ok := ix.vars[varWaitStrs]; ok {
		if typ, err := d.Type(t); err == nil {
			if a, ok := stripTypedefs(typ).(*dwarf.ArrayType); ok && a.Count > 0 {
				l.waitReasonCount = int(a.Count)
			}
		}
	}

	l.labelMap = labelLayoutFromDWARF(d, ix, ptrSize, release)
	l.heap = heapFromDWARF(d, ix)
	return l, nil
}

// statusesFromConsts names every runtime._G* status constant, so that a status number is
// never assumed (Go 1.26 inserted _Gleaked before _Gdeadextra).
func (l *layout) statusesFromConsts(consts map[string]int64) error {
	scan, ok := consts["runtime._Gscan"]
	if !ok || scan <= 0 || scan >= 1<<32 {
		return fmt.Errorf("DWARF has no usable runtime._Gscan constant")
	}
	waiting, ok := consts["runtime._Gwaiting"]
	if !ok {
		return fmt.Errorf("DWARF has no runtime._Gwaiting constant")
	}
	l.gscan, l.gwaiting = uint32(scan), uint32(waiting)
	l.statuses = map[uint32]string{}
	for name, v := range consts {
		short, ok := strings.CutPrefix(name, "runtime._G")
		if !ok || v < 0 || v >= scan {
			continue
		}
		if s, ok := statusName(short); ok {
			l.statuses[uint32(v)] = s
		}
	}
	return nil
}

func labelLayoutFromDWARF(d *dwarf.Data, ix *dwarfIndex, ptrSize int, release goversion.Version) labelLayout {
	ll := classicMapLayout(ptrSize)
	ll.form = labelsSlice
	if release.Known() && release < 24 {
		ll.form = labelsMap
	}
	if off, ok := ix.types[typeLabelMap]; ok {
		if t, err := d.Type(off); err == nil {
			if _, isStruct := stripTypedefs(t).(*dwarf.StructType); isStruct {
				ll.form = labelsSlice
			} else {
				ll.form = labelsMap
			}
		}
	}
	if c, ok := ix.consts["runtime.sameSizeGrow"]; ok && c > 0 && c < 256 {
		ll.sameSizeGrow = uint8(c)
	}
	if c, ok := ix.consts["runtime.minTopHash"]; ok && c > 0 && c < 256 {
		ll.minTopHash = uint8(c)
	}
	if h, err := ix.structType(d, typeHmap); err == nil {
		count, e1 := fieldAt(h, "count")
		flags, e2 := fieldAt(h, "flags")
		b, e3 := fieldAt(h, "B")
		buckets, e4 := fieldAt(h, "buckets")
		old, e5 := fieldAt(h, "oldbuckets")
		if e1 == nil && e2 == nil && e3 == nil && e4 == nil && e5 == nil {
			ll.hmapSize = int(h.ByteSize)
			ll.hmapCount, ll.hmapFlags, ll.hmapB, ll.hmapBuckets, ll.hmapOldbuckets = count, flags, b, buckets, old
		}
	}
	if b, err := ix.structType(d, typeBucket); err == nil {
		top, e1 := fieldAt(b, "tophash")
		keys, e2 := fieldAt(b, "keys")
		elems, e3 := fieldAt(b, "values")
		over, e4 := fieldAt(b, "overflow")
		if e1 == nil && e2 == nil && e3 == nil && e4 == nil {
			ll.bucketSize = int(b.ByteSize)
			ll.bucketTophash, ll.bucketKeys, ll.bucketElems, ll.bucketOverflow = top.off, keys.off, elems.off, over.off
		}
	}
	return ll
}

func (ix *dwarfIndex) structType(d *dwarf.Data, name string) (*dwarf.StructType, error) {
	off, ok := ix.types[name]
	if !ok {
		return nil, fmt.Errorf("DWARF has no type %s", name)
	}
	t, err := d.Type(off)
	if err != nil {
		return nil, fmt.Errorf("DWARF type %s: %w", name, err)
	}
	st, ok := stripTypedefs(t).(*dwarf.StructType)
	if !ok || st.ByteSize <= 0 {
		return nil, fmt.Errorf("DWARF type %s is not a struct", name)
	}
	return st, nil
}

// fieldAt finds a dotted path of struct members ("sched.sp") and returns its offset from
// the start of st and its size.
func fieldAt(st *dwarf.StructType, path string) (field, error) {
	off, typ, err := MemberAt(st, path)
	if err != nil {
		return field{}, err
	}
	size := int(typ.Size())
	if size <= 0 {
		return field{}, fmt.Errorf("member %s has no size", path)
	}
	return field{off, size}, nil
}

// MemberAt finds a dotted path of struct members ("sched.sp", "cleanupBlockHeader.n") in
// st and returns its byte offset from the start of st and its type, typedefs stripped.
// It is the one DWARF field-path walker of gorigin; package leaks uses it too.
func MemberAt(st *dwarf.StructType, path string) (off int, typ dwarf.Type, err error) {
	var cur dwarf.Type = st
	for _, name := range strings.Split(path, ".") {
		s, ok := stripTypedefs(cur).(*dwarf.StructType)
		if !ok {
			return 0, nil, fmt.Errorf("member %s: %s is not a struct", path, cur)
		}
		var found *dwarf.StructField
		for _, f := range s.Field {
			if f.Name == name {
				found = f
				break
			}
		}
		if found == nil {
			return 0, nil, fmt.Errorf("no member %s", path)
		}
		off += int(found.ByteOffset)
		cur = found.Type
	}
	return off, stripTypedefs(cur), nil
}

func stripTypedefs(t dwarf.Type) dwarf.Type {
	for i := 0; i < 16; i++ {
		td, ok := t.(*dwarf.TypedefType)
		if !ok {
			return t
		}
		t = td.Type
	}
	return t
}
