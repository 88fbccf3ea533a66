// Package gstruct knows the Go runtime's data structures: it finds runtime.allgs in a Go
// process's memory and decodes every runtime.g (id, status, wait reason, creation PC,
// stack bounds, labels, ...) for targets built by Go 1.20 and later.
//
// It learns the layouts from the executable (ELF symbols and DWARF) and reads memory only
// through dbg.Memory; it does no process control and no symbolisation.
package gstruct

import (
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/gorigin-dev/gorigin/dbg"
)

// ErrStripped is returned (wrapped) by Open for a Go executable without the symbol table
// or DWARF that gstruct needs.
var ErrStripped = errors.New("executable is stripped")

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

	l *layout

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

// Open reads the executable's ELF symbols, build info and DWARF. It returns an error
// wrapping dbg.ErrNotGo when exe is not a Go program, and one wrapping ErrStripped when it
// is a Go program without symbols or DWARF.
func Open(exe string) (*Runtime, error) {
	f, err := elf.Open(exe)
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("%s is not a Go program (not an ELF file: %v): %w", exe, err, dbg.ErrNotGo)
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
	for _, s := range syms {
		switch s.Name {
		case symAllgs:
			r.allgs = s.Value
		case symAllglen:
			r.allglen = s.Value
		case symWaitReasons:
			r.waitReasonStrings, r.waitReasonSymSize = s.Value, s.Size
		}
	}
	if r.allgs == 0 || r.allglen == 0 {
		if len(syms) == 0 && r.goVersion != "" {
			return nil, fmt.Errorf("%s (%s) has no symbol table: rebuild it without -ldflags=-s (stripped binaries are not supported yet): %w", exe, r.goVersion, ErrStripped)
		}
		return nil, fmt.Errorf("%s is not a Go program (no %s): %w", exe, symAllgs, dbg.ErrNotGo)
	}
	if r.waitReasonStrings == 0 {
		return nil, fmt.Errorf("%s has no %s symbol: is it built by Go 1.20 or later?", exe, symWaitReasons)
	}

	if f.Section(".debug_info") == nil && f.Section(".zdebug_info") == nil {
		return nil, fmt.Errorf("%s (%s) has no DWARF: rebuild it without -ldflags=-w (stripped binaries are not supported yet): %w", exe, r.goVersion, ErrStripped)
	}
	d, err := f.DWARF()
	if err != nil {
		return nil, fmt.Errorf("read DWARF of %s: %w", exe, err)
	}

	ptrSize := 8
	if f.Class == elf.ELFCLASS32 {
		ptrSize = 4
	}
	l, err := layoutFromDWARF(d, ptrSize, f.ByteOrder, goMinor(r.goVersion))
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", exe, r.goVersion, err)
	}
	if l.waitReasonCount == 0 && r.waitReasonSymSize > 0 {
		l.waitReasonCount = int(r.waitReasonSymSize / uint64(2*ptrSize))
	}
	r.l = l
	return r, nil
}

// LoadBias is what was added to the executable's link-time addresses when it was loaded
// (non-zero for position-independent executables); valid after Bind.
func (r *Runtime) LoadBias() uint64 { return r.bias }

// GoVersion is the Go version that built the executable ("go1.26.8"), or "" if unknown.
func (r *Runtime) GoVersion() string { return r.goVersion }

// GSize is the size in bytes of a runtime.g; Decode wants that many bytes.
func (r *Runtime) GSize() int { return r.l.gSize }

var goMinorRE = regexp.MustCompile(`go1\.(\d+)`)

// goMinor returns the minor version of a Go version string ("go1.24.13" → 24), or 0.
func goMinor(v string) int {
	m := goMinorRE.FindStringSubmatch(v)
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return 0
	}
	return n
}
