// Package gstruct knows the Go runtime's data structures: it finds runtime.allgs in a Go
// process's memory and decodes every runtime.g (id, status, wait reason, creation PC,
// stack bounds, labels, ...) for targets built by Go 1.20 and later.
//
// It learns the layouts from the executable's DWARF and symbols or, for a stripped
// executable, from built-in per-release layouts and the machine code of runtime functions;
// it reads memory only through dbg.Memory, and does no process control and no
// symbolisation.
package gstruct

import (
	"debug/buildinfo"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/internal/goversion"
)

// ErrStripped is returned (wrapped) by Open for a stripped Go executable that gstruct cannot
// read without DWARF or symbols: a Go release newer than the built-in layouts, or code in
// which the runtime's variables cannot be found.
var ErrStripped = dbg.NewInputError("executable is stripped")

// Runtime is what gstruct knows about one Go executable and, after Bind, about the
// process running it: where the runtime's variables are and how runtime.g is laid out.
type Runtime struct {
	exe       string
	goVersion string
	elfType   elf.Type
	loads     []elf.ProgHeader // PT_LOAD segments, to find the load bias

	// Link-time addresses of runtime variables (add the load bias).
	allgs, allglen    uint64
	waitReasonStrings uint64
	waitReasonSymSize uint64
	vars              heapVars  // the heap's variables, for package leaks (Heap)
	varsErr           error     // why they were not found in machine code (no symbols)
	varsOnce          sync.Once // the search in machine code, on the first Heap
	dataSyms          []dataSym // the symbol table's variables, for DataSymbol

	l      *layout
	source string // what Source returns
	found  bool   // the variables were found in machine code: Bind checks them

	bias        uint64
	waitReasons []string  // runtime.waitReasonStrings, read from the target by Bind
	lastAllgs   allgsView // what AllGs read last, to read only what was appended since
}

// Symbols gstruct needs from the ELF symbol table.
const (
	symAllgs       = "runtime.allgs"
	symAllglen     = "runtime.allglen"
	symWaitReasons = "runtime.waitReasonStrings"
)

// Open is OpenWith with no options: the executable's own DWARF, or a debug file found
// next to it or under /usr/lib/debug.
func Open(exe string) (*Runtime, error) { return OpenWith(exe, OpenOptions{}) }

// OpenWith reads the executable's ELF symbols, build info and DWARF. The DWARF and symbols
// may come from a separate debug file (opt.DebugFile, or one found where GDB looks),
// accepted only with the executable's build ID; the pclntab and the build info always come
// from the executable. Where there is neither (-ldflags='-s -w'), it finds the runtime's
// variables from the machine code of runtime functions located through the pclntab, and
// takes runtime.g's layout from the built-in layouts of the executable's Go version (DWARF,
// when present, always wins). Source says which it used. OpenWith returns an error
// wrapping dbg.ErrNotGo when exe is not a Go program, one wrapping ErrDebugFile when
// opt.DebugFile is unusable, and one wrapping ErrStripped when it is a Go program that
// neither way works for.
func OpenWith(exe string, opt OpenOptions) (*Runtime, error) {
	f, err := elf.Open(exe)
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) {
			return nil, dbg.Errorf(dbg.ErrNotGo, "%s is not a Go program (not an ELF file: %v)", exe, err)
		}
		return nil, fmt.Errorf("open executable: %w", err)
	}
	defer f.Close()

	r := &Runtime{exe: exe, elfType: f.Type}
	if bi, err := buildinfo.ReadFile(exe); err == nil {
		r.goVersion = bi.GoVersion
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			r.loads = append(r.loads, p.ProgHeader)
		}
	}

	syms, err := f.Symbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, fmt.Errorf("read symbols of %s: %w", exe, err)
	}
	r.takeSymbols(syms)
	dwarfFile, debugNote := f, ""
	if opt.DebugFile != "" || !hasDWARF(f) || r.allgs == 0 {
		d, found, skipped, err := findDebugFile(exe, f, opt)
		if err != nil {
			return nil, err
		}
		if d != nil {
			defer d.Close()
			if r.allgs == 0 {
				dsyms, err := d.Symbols()
				if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
					return nil, fmt.Errorf("read symbols of the debug file %s: %w: %w", found, err, ErrDebugFile)
				}
				r.takeSymbols(dsyms)
				syms = append(syms, dsyms...)
			}
			dwarfFile, debugNote = d, " from "+found
		}
		for _, p := range skipped {
			debugNote += " (" + p + " ignored: another build's)"
		}
	}
	haveSyms := r.allgs != 0 && r.allglen != 0
	if !haveSyms && (len(syms) > 0 || r.goVersion == "") {
		return nil, dbg.Errorf(dbg.ErrNotGo, "%s is not a Go program (no %s symbol, no Go build info)", exe, symAllgs)
	}
	if haveSyms && r.waitReasonStrings == 0 {
		return nil, fmt.Errorf("%s has no %s symbol: is it built by Go 1.20 or later?", exe, symWaitReasons)
	}

	if hasDWARF(dwarfFile) {
		if r.l, err = dwarfLayout(dwarfFile, r.goVersion, r.waitReasonSymSize); err != nil {
			return nil, fmt.Errorf("%s (%s): %w", exe, r.goVersion, err)
		}
		r.source = "DWARF"
	} else {
		if r.l, err = builtinLayout(goArch(f), r.goVersion); err != nil {
			return nil, fmt.Errorf("%s has no DWARF, and %w: %w", exe, err, ErrStripped)
		}
		r.source = "built-in layout " + goversion.Parse(r.goVersion).String()
	}

	if !haveSyms {
		c, err := newCodeScanner(f)
		var v runtimeVars
		if err == nil {
			v, err = findRuntimeVars(c)
		}
		if err != nil {
			return nil, dbg.Errorf(ErrStripped, "%s (%s) has no symbol table, and gorigin could not find runtime.allgs in its machine code (%v): rebuild it without -ldflags=-s", exe, r.goVersion, err)
		}
		r.allgs, r.allglen, r.waitReasonStrings = v.allgs, v.allglen, v.waitReasonStrings
		if v.waitReasonCount > 0 {
			r.l.waitReasonCount = v.waitReasonCount // the bound the runtime itself checks
		}
		r.found = true
		r.source += ", runtime variables found in machine code"
	} else {
		r.source += ", symbols"
	}
	r.source += debugNote
	return r, nil
}

// takeSymbols notes the addresses of the runtime variables gstruct reads.
func (r *Runtime) takeSymbols(syms []elf.Symbol) {
	r.takeDataSyms(syms)
	for _, s := range syms {
		r.vars.take(s)
		switch s.Name {
		case symAllgs:
			r.allgs = s.Value
		case symAllglen:
			r.allglen = s.Value
		case symWaitReasons:
			r.waitReasonStrings, r.waitReasonSymSize = s.Value, s.Size
		}
	}
}

// hasDWARF says whether f carries DWARF.
func hasDWARF(f *elf.File) bool {
	return f.Section(".debug_info") != nil || f.Section(".zdebug_info") != nil
}

// dwarfLayout reads the runtime's layout from the executable's DWARF.
func dwarfLayout(f *elf.File, goVersion string, waitReasonSymSize uint64) (*layout, error) {
	d, err := loadDWARF(f)
	if err != nil {
		return nil, fmt.Errorf("read DWARF: %w", err)
	}
	ptrSize := 8
	if f.Class == elf.ELFCLASS32 {
		ptrSize = 4
	}
	l, err := layoutFromDWARF(d, ptrSize, f.ByteOrder, goversion.Parse(goVersion))
	if err != nil {
		return nil, err
	}
	if l.waitReasonCount == 0 && waitReasonSymSize > 0 {
		l.waitReasonCount = int(waitReasonSymSize / uint64(2*ptrSize))
	}
	return l, nil
}

// goArch names an ELF machine as GOARCH does (the machine's ELF name for others).
func goArch(f *elf.File) string {
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64"
	case elf.EM_AARCH64:
		return "arm64"
	case elf.EM_386:
		return "386"
	case elf.EM_ARM:
		return "arm"
	case elf.EM_RISCV:
		return "riscv64"
	case elf.EM_PPC64:
		if f.ByteOrder == binary.LittleEndian {
			return "ppc64le"
		}
		return "ppc64"
	case elf.EM_S390:
		return "s390x"
	case elf.EM_LOONGARCH:
		return "loong64"
	}
	return f.Machine.String()
}

// Source says where the runtime's layout and variables came from: "DWARF, symbols", or
// "built-in layout go1.26, runtime variables found in machine code" for a stripped
// executable, and the like.
func (r *Runtime) Source() string { return r.source }

// LoadBias is what was added to the executable's link-time addresses when it was loaded
// (non-zero for position-independent executables); valid after Bind.
func (r *Runtime) LoadBias() uint64 { return r.bias }

// GoVersion is the Go version that built the executable ("go1.26.8"), or "" if unknown.
func (r *Runtime) GoVersion() string { return r.goVersion }

// GSize is the size in bytes of a runtime.g; Decode wants that many bytes.
func (r *Runtime) GSize() int { return r.l.gSize }
