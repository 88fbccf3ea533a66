package addr2line

import (
	"debug/elf"
	"encoding/binary"
	"regexp"
)

// The compiler turns `go f(x)` into a closure that calls f(x) ("caller.gowrapN" since Go
// 1.22, a "caller.funcN" marked as a wrapper before), and that wrapper is the goroutine's
// start function (runtime.g.startpc). People want to see f. Wrapped finds it: an inlined f shows in the wrapper's inline tree; a
// called f is the first direct call in the wrapper to a function outside the runtime.

var gowrapName = regexp.MustCompile(`\.gowrap\d+$`)

// maxWrapper bounds the bytes of a wrapper searched for its call.
const maxWrapper = 4096

// codeImage is the executable's text segment.
type codeImage struct {
	addr    uint64
	data    []byte
	machine elf.Machine
}

func newCodeImage(f *elf.File, im *image, text uint64) (*codeImage, error) {
	seg := im.segmentAt(text)
	if seg == nil {
		return nil, nil // no text in the file: wrappers are shown as they are
	}
	data, err := seg.load()
	if err != nil {
		return nil, err
	}
	return &codeImage{addr: seg.addr, data: data, machine: f.Machine}, nil
}

// Wrapped returns the function that a go statement wrapper starting at entry calls, and
// false when entry is not such a wrapper or the callee cannot be told.
func (t *Table) Wrapped(entry uint64) (Frame, bool) {
	f, fentry, ok := t.findFunc(entry)
	if !ok || fentry != entry || t.code == nil || !(t.isWrapper(f.funcID) || gowrapName.MatchString(t.tab.funcName(f.nameOff))) {
		return Frame{}, false
	}
	end := t.funcEnd(entry)
	if end <= entry || end-entry > maxWrapper || entry < t.code.addr || end-t.code.addr > uint64(len(t.code.data)) {
		return Frame{}, false
	}
	body := t.code.data[entry-t.code.addr : end-t.code.addr]
	// An inlined callee: the outermost inlined frame at any PC of the wrapper.
	for pc := entry; pc < end; pc++ {
		if frames, ok := t.Lookup(pc); ok && len(frames) > 1 {
			callee := frames[len(frames)-2]
			return Frame{Func: callee.Func, File: callee.File, Line: callee.Line, Entry: entry, Inlined: true}, true
		}
	}
	for _, target := range directCalls(t.code.machine, entry, body) {
		name, tentry, ok := t.Func(target)
		if !ok || tentry != target || isRuntime(name) {
			continue
		}
		frames, ok := t.Lookup(target)
		if !ok {
			continue
		}
		return frames[len(frames)-1], true
	}
	return Frame{}, false
}

// funcEnd is the entry of the next function: the end of the one at entry.
func (t *Table) funcEnd(entry uint64) uint64 {
	i, ok := t.tab.findFunc(entry - t.text)
	if !ok || i+1 > t.tab.nfunc {
		return entry
	}
	next, _ := t.tab.ftab(i + 1)
	return t.text + uint64(next)
}

// directCalls lists the targets of the direct call instructions in code at addr, in order.
// On amd64 a CALL rel32 is E8 and four bytes; a byte that only looks like one yields a
// target the caller then rejects unless it is exactly a function entry. On arm64 BL is one
// aligned word.
func directCalls(machine elf.Machine, addr uint64, code []byte) []uint64 {
	var out []uint64
	switch machine {
	case elf.EM_X86_64:
		for i := 0; i+5 <= len(code); i++ {
			if code[i] == 0xE8 {
				rel := int32(binary.LittleEndian.Uint32(code[i+1:]))
				out = append(out, uint64(int64(addr)+int64(i)+5+int64(rel)))
			}
		}
	case elf.EM_AARCH64:
		for i := 0; i+4 <= len(code); i += 4 {
			w := binary.LittleEndian.Uint32(code[i:])
			if w>>26 == 0x25 { // BL imm26
				imm := int64(int32(w<<6) >> 6)
				out = append(out, uint64(int64(addr)+int64(i)+imm*4))
			}
		}
	}
	return out
}

func isRuntime(name string) bool {
	for _, p := range []string{"runtime.", "internal/runtime/", "runtime/internal/"} {
		if len(name) >= len(p) && name[:len(p)] == p {
			return true
		}
	}
	return false
}
