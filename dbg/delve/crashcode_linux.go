package delve

import (
	"debug/elf"
	"fmt"
	"os"
	"strings"

	"github.com/gorigin-dev/gorigin/addr2line"
	"github.com/gorigin-dev/gorigin/dbg"
)

// crashFuncs are the functions Delve's attach writes an int3 into, after their prologue:
// the unrecovered-panic breakpoint (runtime.startpanic, or runtime.fatalpanic where that
// does not exist) and the fatal-throw ones (pkg/proc/target.go,
// createUnrecoveredPanicBreakpoint and createFatalThrowBreakpoint).
var crashFuncs = []string{"runtime.startpanic", "runtime.fatalpanic", "runtime.throw", "runtime.fatal", "runtime.fatalsignal"}

// maxCrashFunc bounds the code kept per function: these are a few hundred bytes each.
const maxCrashFunc = 4096

// A codePatch is machine code of the target at a run-time address, as its executable
// holds it.
type codePatch struct {
	addr uint64
	code []byte
}

// crashCode reads, from the executable of process pid (/proc/PID/exe), the whole code of
// each of crashFuncs, at its run-time address (the load bias added for a PIE). Before
// Delve's attach gorigin gives it to the stop guard, which writes it back if gorigin dies
// before it has cleared Delve's breakpoints itself.
//
// The code read must match the target's memory now, but for int3 bytes left by an
// earlier Delve attach that was killed (which the guard then repairs too): otherwise the
// address or the file is not what the target runs, and crashCode fails rather than have
// the guard write the wrong bytes.
func crashCode(pid int) ([]codePatch, error) {
	exe := fmt.Sprintf("/proc/%d/exe", pid)
	fh, err := os.Open(exe)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f, err := elf.NewFile(fh)
	if err != nil {
		return nil, err
	}
	tab, err := addr2line.NewTable(f)
	if err != nil {
		return nil, err
	}
	maps, err := readMappings(pid)
	if err != nil {
		return nil, err
	}
	bias, err := loadBias(f, maps, exe)
	if err != nil {
		return nil, err
	}
	var out []codePatch
	for _, name := range crashFuncs {
		entry, end, ok := tab.FuncRange(name)
		if !ok || end <= entry {
			continue
		}
		code, err := codeAt(f, entry, min(end-entry, maxCrashFunc))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		live := make([]byte, len(code))
		if err := vmRead(pid, []dbg.Region{{Addr: entry + bias, Buf: live}}); err != nil {
			return nil, fmt.Errorf("%s at %#x: %w", name, entry+bias, err)
		}
		for i := range code {
			if live[i] != code[i] && live[i] != int3 {
				return nil, fmt.Errorf("%s at %#x: byte %d is %#x in memory, %#x in %s", name, entry+bias, i, live[i], code[i], exe)
			}
		}
		out = append(out, codePatch{addr: entry + bias, code: code})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("none of %s in %s", strings.Join(crashFuncs, ", "), exe)
	}
	return out, nil
}

// int3 is the x86 breakpoint instruction Delve writes.
const int3 = 0xcc

// codeAt reads n bytes at link-time address addr from the executable segment holding it.
func codeAt(f *elf.File, addr, n uint64) ([]byte, error) {
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_X == 0 || addr < p.Vaddr || addr+n > p.Vaddr+p.Filesz {
			continue
		}
		b := make([]byte, n)
		if _, err := p.ReadAt(b, int64(addr-p.Vaddr)); err != nil {
			return nil, err
		}
		return b, nil
	}
	return nil, fmt.Errorf("%#x is in no executable segment", addr)
}

// loadBias is what the kernel added to the executable's link-time addresses: 0 for a
// fixed-address executable, else from the mapping of its executable segment.
func loadBias(f *elf.File, maps []dbg.Mapping, exe string) (uint64, error) {
	if f.Type == elf.ET_EXEC {
		return 0, nil
	}
	path, err := os.Readlink(exe)
	if err != nil {
		return 0, err
	}
	path = strings.TrimSuffix(path, " (deleted)")
	page := uint64(os.Getpagesize())
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_X == 0 {
			continue
		}
		for _, m := range maps {
			if strings.TrimSuffix(m.Path, " (deleted)") == path && m.Offset == p.Off&^(page-1) && strings.Contains(m.Perm, "x") {
				return m.Start + (p.Off - m.Offset) - p.Vaddr, nil
			}
		}
	}
	return 0, fmt.Errorf("no mapping of %s holds its executable segment", path)
}
