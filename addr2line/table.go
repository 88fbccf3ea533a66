package addr2line

import (
	"debug/elf"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
)

// Frame is one logical frame at a PC.
type Frame struct {
	Func    string // as the runtime prints it, e.g. "main.(*server).serve", "main.main.func1", "main.gen[...]"
	File    string
	Line    int
	Entry   uint64 // entry PC of the (physical) function
	Inlined bool   // true if this frame was inlined into the next one
	// Wrapper is true for compiler-generated code (method value and go statement
	// wrappers, ...) that the runtime's tracebacks hide.
	Wrapper bool
}

// maxInlineDepth bounds the frames of one PC; real chains are a few deep.
const maxInlineDepth = 1024

// maxCached bounds the lookup cache; when full it starts afresh.
const maxCached = 1 << 16

// Table symbolises PCs of one Go executable. It holds copies of the bytes
// it needs, so it outlives the file, and it is safe for concurrent use.
type Table struct {
	tab       *pclntab
	text      uint64 // moduledata.text: base of function entry offsets
	gofunc    uint64 // moduledata.gofunc: base of funcdata offsets
	rodata    []byte // the segment holding gofunc, from rodataAt
	rodataAt  uint64
	goVersion string
	module    Module
	code      *codeImage // the text, to see through go statement wrappers

	mu    sync.RWMutex
	cache map[uint64][]Frame
}

// Open reads the pclntab and moduledata of the ELF executable at path.
func Open(path string) (*Table, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("addr2line: %w", err)
	}
	defer file.Close()
	f, err := elf.NewFile(file)
	if err != nil {
		return nil, fmt.Errorf("addr2line: %s: not an ELF executable (gorigin reads Linux executables): %w", path, err)
	}
	t, err := newTable(f)
	if err != nil {
		return nil, fmt.Errorf("addr2line: %s: %w", path, err)
	}
	return t, nil
}

// NewTable reads the pclntab and moduledata of an ELF executable. It reads
// everything it needs before returning; f may be closed afterwards.
func NewTable(f *elf.File) (*Table, error) {
	t, err := newTable(f)
	if err != nil {
		return nil, fmt.Errorf("addr2line: %w", err)
	}
	return t, nil
}

func newTable(f *elf.File) (*Table, error) {
	im, err := newImage(f)
	if err != nil {
		return nil, err
	}
	addr, data, err := findPclntab(f, im)
	if err != nil {
		return nil, err
	}
	tab, err := parsePclntab(data, f.ByteOrder)
	if err != nil {
		return nil, fmt.Errorf("pclntab at %#x: %w", addr, err)
	}
	version := goVersion(f, im)
	md, err := findModuledata(im, f.ByteOrder, tab, addr, version)
	if err != nil {
		return nil, err
	}
	seg := im.segmentAt(md.gofunc)
	rodata, err := seg.load()
	if err != nil {
		return nil, err
	}
	code, err := newCodeImage(f, im, md.text)
	if err != nil {
		return nil, err
	}
	return &Table{
		code:      code,
		tab:       tab,
		text:      md.text,
		gofunc:    md.gofunc,
		rodata:    rodata,
		rodataAt:  seg.addr,
		goVersion: version,
		module:    md.section,
		cache:     make(map[uint64][]Frame),
	}, nil
}

// GoVersion returns the Go version from the build information, or "".
func (t *Table) GoVersion() string { return t.goVersion }

// Module returns the sections runtime.firstmoduledata records (link-time addresses).
func (t *Table) Module() Module { return t.module }

// Func returns the physical function containing pc: its name, as the
// runtime prints it, and its entry PC.
func (t *Table) Func(pc uint64) (name string, entry uint64, ok bool) {
	f, entry, ok := t.findFunc(pc)
	if !ok {
		return "", 0, false
	}
	return funcNameForPrint(t.tab.funcName(f.nameOff)), entry, true
}

// Lookup returns the frames at pc, innermost first: inlined frames, then the
// physical function. It returns nil, false if pc is in no function. The
// result is the caller's to keep.
func (t *Table) Lookup(pc uint64) ([]Frame, bool) {
	t.mu.RLock()
	frames, hit := t.cache[pc]
	t.mu.RUnlock()
	if !hit {
		frames = t.lookup(pc)
		t.mu.Lock()
		if len(t.cache) >= maxCached {
			clear(t.cache)
		}
		t.cache[pc] = frames
		t.mu.Unlock()
	}
	if frames == nil {
		return nil, false
	}
	return slices.Clone(frames), true
}

func (t *Table) findFunc(pc uint64) (funcInfo, uint64, bool) {
	if pc < t.text || pc-t.text >= 1<<32 {
		return funcInfo{}, 0, false
	}
	i, ok := t.tab.findFunc(pc - t.text)
	if !ok {
		return funcInfo{}, 0, false
	}
	f, err := t.tab.funcInfo(i)
	if err != nil || f.entryOff == ^uint32(0) {
		return funcInfo{}, 0, false
	}
	return f, t.text + uint64(f.entryOff), true
}

// lookup mirrors the runtime's inlineUnwinder (runtime/symtabinl.go).
func (t *Table) lookup(pc uint64) []Frame {
	f, entry, ok := t.findFunc(pc)
	if !ok {
		return nil
	}
	inlIndex := t.tab.pcdata(f, pcdataInlTreeIndex)
	treeOff, hasTree := t.tab.funcdata(f, funcdataInlTree)
	var frames []Frame
	prev := int32(math.MaxInt32)
	for depth := 0; depth < maxInlineDepth; depth++ {
		ix := int32(-1)
		if hasTree {
			ix = t.tab.pcvalue(inlIndex, entry, pc)
		}
		// The compiler adds a call's parent to a function's inline tree
		// before the call, so a parent's index is always smaller; a
		// table that says otherwise is corrupt and would loop.
		if ix < 0 || ix >= prev {
			break
		}
		prev = ix
		call, ok := t.inlinedCall(treeOff, ix)
		if !ok {
			break // as the runtime: fall back to the outermost frame
		}
		file, line := t.tab.fileLine(f, entry, pc)
		frames = append(frames, Frame{Func: funcNameForPrint(t.tab.funcName(call.nameOff)), File: file, Line: line, Entry: entry, Inlined: true, Wrapper: t.isWrapper(call.funcID)})
		pc = entry + uint64(int64(call.parentPc))
	}
	file, line := t.tab.fileLine(f, entry, pc)
	return append(frames, Frame{Func: funcNameForPrint(t.tab.funcName(f.nameOff)), File: file, Line: line, Entry: entry, Wrapper: t.isWrapper(f.funcID)})
}

// inlinedCall is runtime.inlinedCall.
type inlinedCall struct {
	funcID   uint8
	nameOff  int32
	parentPc int32
}

func (t *Table) inlinedCall(treeOff uint32, ix int32) (inlinedCall, bool) {
	addr := t.gofunc + uint64(treeOff) + uint64(ix)*inlinedCallSize
	if addr < t.rodataAt || addr-t.rodataAt > uint64(len(t.rodata)) || uint64(len(t.rodata))-(addr-t.rodataAt) < inlinedCallSize {
		return inlinedCall{}, false
	}
	p := t.rodata[addr-t.rodataAt:]
	o := t.tab.order
	return inlinedCall{funcID: p[0], nameOff: int32(o.Uint32(p[4:])), parentPc: int32(o.Uint32(p[8:]))}, true
}

// funcNameForPrint is runtime.funcNameForPrint: the shape arguments of a
// generic function's name become "[...]".
func funcNameForPrint(name string) string {
	i := strings.IndexByte(name, '[')
	j := strings.LastIndexByte(name, ']')
	if i < 0 || j <= i {
		return name
	}
	return name[:i] + "[...]" + name[j+1:]
}
