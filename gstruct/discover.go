package gstruct

import (
	"debug/elf"
	"fmt"

	"github.com/gorigin-dev/gorigin/addr2line"
	"github.com/gorigin-dev/gorigin/dbg"
)

// maxFuncCode bounds the machine code read for one function.
const maxFuncCode = 64 << 10

// runtimeVars are the link-time addresses of the runtime variables gstruct reads, as
// found without a symbol table.
type runtimeVars struct {
	allgs, allglen, waitReasonStrings uint64
	waitReasonCount                   int // the bound in waitReason.String; 0 if not seen
}

// codeScanner scans the machine code of an executable's functions by name: the pclntab
// (which survives stripping) gives their bounds.
type codeScanner struct {
	f        *elf.File
	tab      *addr2line.Table
	scanCode func(pc uint64, code []byte, writable func(uint64) bool) *codeRefs
}

func newCodeScanner(f *elf.File) (*codeScanner, error) {
	c := &codeScanner{f: f}
	switch f.Machine {
	case elf.EM_X86_64:
		c.scanCode = func(pc uint64, code []byte, w func(uint64) bool) *codeRefs { return &scanX86(pc, code, w).codeRefs }
	case elf.EM_AARCH64:
		c.scanCode = func(pc uint64, code []byte, w func(uint64) bool) *codeRefs { return &scanARM64(pc, code, w).codeRefs }
	default:
		return nil, fmt.Errorf("finding the runtime's variables without symbols is implemented for amd64 and arm64, this is %v", f.Machine)
	}
	var err error
	if c.tab, err = addr2line.NewTable(f); err != nil {
		return nil, err
	}
	return c, nil
}

// writable says whether addr is in a writable segment (data, bss), and not in the part
// a PIE's dynamic loader makes read-only after relocating it (PT_GNU_RELRO: type
// descriptors and the like, never a runtime variable).
func (c *codeScanner) writable(addr uint64) bool {
	w := false
	for _, p := range c.f.Progs {
		in := addr >= p.Vaddr && addr-p.Vaddr < p.Memsz
		switch {
		case in && p.Type == elf.PT_GNU_RELRO:
			return false
		case in && p.Type == elf.PT_LOAD && p.Flags&elf.PF_W != 0:
			w = true
		}
	}
	return w
}

// scan is what the code of the function name does with writable memory.
func (c *codeScanner) scan(name string) (*codeRefs, error) {
	entry, end, ok := c.tab.FuncRange(name)
	if !ok {
		return nil, fmt.Errorf("no function %s in the pclntab", name)
	}
	code, err := readCode(c.f, entry, end)
	if err != nil {
		return nil, fmt.Errorf("read the code of %s: %w", name, err)
	}
	return c.scanCode(entry, code, c.writable), nil
}

// findRuntimeVars finds runtime.allgs, runtime.allglen and runtime.waitReasonStrings in
// an executable without symbols: the pclntab (which survives stripping) gives the code of
// runtime functions that use them, and their machine code gives the addresses.
func findRuntimeVars(c *codeScanner) (runtimeVars, error) {
	var v runtimeVars
	s, err := c.scan("runtime.allgadd")
	if err != nil {
		return v, err
	}
	if v.allgs, v.allglen, err = allgsFromAllgadd(s); err != nil {
		return v, err
	}
	if s, err = c.scan("runtime.waitReason.String"); err != nil {
		return v, err
	}
	if v.waitReasonStrings, v.waitReasonCount, err = waitReasonsFromString(s); err != nil {
		return v, err
	}
	return v, nil
}

// readCode reads the file bytes of [entry, end) from the executable segment holding them.
func readCode(f *elf.File, entry, end uint64) ([]byte, error) {
	if end <= entry || end-entry > maxFuncCode {
		return nil, fmt.Errorf("function at %#x has %d bytes", entry, end-entry)
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_X == 0 || entry < p.Vaddr || end-p.Vaddr > p.Filesz {
			continue
		}
		b := make([]byte, end-entry)
		if _, err := p.ReadAt(b, int64(entry-p.Vaddr)); err != nil {
			return nil, err
		}
		return b, nil
	}
	return nil, fmt.Errorf("%#x-%#x is in no executable segment", entry, end)
}

// checkFound checks runtime variables found without symbols against the target's memory
// before they are trusted: allgs is a slice header (len ≤ cap, a non-nil array), allglen
// is its length (or one less, in the middle of allgadd), and every wait reason is a short
// printable ASCII string, the first one empty.
func (r *Runtime) checkFound(m dbg.Memory, waitReasons []string) error {
	p := r.l.ptrSize
	slice := dbg.Region{Addr: r.allgs + r.bias, Buf: make([]byte, 3*p)}
	length := dbg.Region{Addr: r.allglen + r.bias, Buf: make([]byte, p)}
	if err := m.ReadBatch([]dbg.Region{slice, length}); err != nil {
		return fmt.Errorf("read runtime.allgs at %#x and runtime.allglen at %#x (found in machine code): %w", slice.Addr, length.Addr, err)
	}
	data, n, c := r.l.ptrAt(slice.Buf, 0), r.l.ptrAt(slice.Buf, p), r.l.ptrAt(slice.Buf, 2*p)
	glen := r.l.ptrAt(length.Buf, 0)
	if data == 0 || n == 0 || n > c || c > maxGs || glen > n || glen+1 < n {
		return fmt.Errorf("what machine code says is runtime.allgs (%#x: array %#x, len %d, cap %d) and runtime.allglen (%#x: %d) are not", slice.Addr, data, n, c, length.Addr, glen)
	}
	if len(waitReasons) == 0 || waitReasons[0] != "" {
		return fmt.Errorf("what machine code says is runtime.waitReasonStrings (%#x) does not start with an empty string", r.waitReasonStrings+r.bias)
	}
	for i, s := range waitReasons {
		for j := 0; j < len(s); j++ {
			if s[j] < ' ' || s[j] > '~' {
				return fmt.Errorf("what machine code says is runtime.waitReasonStrings (%#x) has entry %d %q, not a wait reason", r.waitReasonStrings+r.bias, i, s)
			}
		}
	}
	return nil
}
