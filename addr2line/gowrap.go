package addr2line

import (
	"debug/elf"
	"encoding/binary"
	"regexp"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// The compiler turns `go f(x)` into a closure that calls f(x) ("caller.gowrapN" since Go
// 1.22, a "caller.funcN" marked as a wrapper before), and that wrapper is the goroutine's
// start function (runtime.g.startpc). People want to see f, as the runtime's tracebacks
// show it. Wrapped finds it in the wrapper's code: an inlined f shows in the wrapper's
// inline tree; a called f is the first direct call in the wrapper to a function that is
// not a compiler helper. A wrapper that calls f through a func value or an interface
// method (GoWrapper, but not Wrapped) leaves f to the goroutine's stack.

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
// false when entry is not such a wrapper or the callee cannot be told from its code (see
// GoWrapper).
func (t *Table) Wrapped(entry uint64) (Frame, bool) {
	body, ok := t.wrapperBody(entry)
	if !ok {
		return Frame{}, false
	}
	end := entry + uint64(len(body))
	// An inlined callee: the outermost inlined frame at any PC of the wrapper.
	for pc := entry; pc < end; pc++ {
		if frames, ok := t.Lookup(pc); ok && len(frames) > 1 {
			callee := frames[len(frames)-2]
			return Frame{Func: callee.Func, File: callee.File, Line: callee.Line, Entry: entry, Inlined: true}, true
		}
	}
	wrapper, _, _ := t.Func(entry)
	for _, target := range directCalls(t.code.machine, entry, body) {
		name, tentry, ok := t.Func(target)
		if !ok || tentry != target || !callable(wrapper, name) {
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

// GoWrapper reports whether entry is the entry of a compiler-made wrapper (a go statement's
// gowrapN, a Go 1.20/1.21 closure marked as a wrapper, a method value's -fm). When Wrapped
// cannot tell its callee, the wrapper calls it through a func value or an interface method
// (`go f(x)` with f a variable or a closure that captures variables, `go iface.M(x)`): only
// a goroutine's stack, where the callee's frame sits above the wrapper's, can tell.
func (t *Table) GoWrapper(entry uint64) bool {
	_, ok := t.wrapperBody(entry)
	return ok
}

// wrapperBody is the machine code of the wrapper starting at entry.
func (t *Table) wrapperBody(entry uint64) ([]byte, bool) {
	f, fentry, ok := t.findFunc(entry)
	if !ok || fentry != entry || t.code == nil || !(t.isWrapper(f.funcID) || gowrapName.MatchString(t.tab.funcName(f.nameOff))) {
		return nil, false
	}
	end := t.funcEnd(entry)
	if end <= entry || end-entry > maxWrapper || entry < t.code.addr || end-t.code.addr > uint64(len(t.code.data)) {
		return nil, false
	}
	return t.code.data[entry-t.code.addr : end-t.code.addr], true
}

// callable says whether a direct call from wrapper to callee can be the go statement's
// function rather than a helper the compiler calls (stack growth, race hooks, write
// barriers, panics). Outside the runtime every runtime function is a helper; the runtime's
// own go statements (runtime.gcenable's `go bgsweep(c)`) start runtime functions.
func callable(wrapper, callee string) bool {
	if !isRuntime(callee) {
		return true
	}
	if !isRuntime(wrapper) {
		return false
	}
	for _, p := range []string{"runtime.morestack", "runtime.racefunc", "runtime.gcWriteBarrier", "runtime.panic", "runtime.duff", "runtime.defer", "runtime.wbBuf", "runtime.memmove", "runtime.memclr"} {
		if strings.HasPrefix(callee, p) {
			return false
		}
	}
	return true
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

// directCalls lists the targets of the direct call instructions in code at addr, in
// order, decoding instructions from the function's entry (amd64: CALL rel32; arm64: BL).
func directCalls(machine elf.Machine, addr uint64, code []byte) []uint64 {
	var out []uint64
	switch machine {
	case elf.EM_X86_64:
		for i := 0; i < len(code); {
			inst, err := x86asm.Decode(code[i:], 64)
			if err != nil || inst.Len == 0 {
				i++ // padding or data: go on at the next byte
				continue
			}
			next := addr + uint64(i) + uint64(inst.Len)
			if rel, ok := inst.Args[0].(x86asm.Rel); ok && inst.Op == x86asm.CALL {
				out = append(out, uint64(int64(next)+int64(rel)))
			}
			i += inst.Len
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
