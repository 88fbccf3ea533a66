package gstruct

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gorigin-dev/gorigin/dbg"
)

// Caps on what static data may claim, so that garbage cannot make gstruct allocate much.
const (
	maxWaitReasons   = 256 // waitReason is a uint8
	maxWaitReasonLen = 256
)

// Bind learns what depends on the running target: the load bias of the executable (from
// the mapping of exePath in maps) and the wait reason names (runtime.waitReasonStrings,
// read from target memory because relocations fill it in at load time). Call it once per
// target, before Decode; the data it reads never changes.
func (r *Runtime) Bind(m dbg.Memory, maps []dbg.Mapping, exePath string) error {
	bias, err := loadBias(r.elfType, r.loads, maps, exePath)
	if err != nil {
		return err
	}
	r.bias = bias
	names, err := r.readWaitReasons(m)
	if err != nil {
		return err
	}
	if r.found {
		if err := r.checkFound(m, names); err != nil {
			return fmt.Errorf("%w: the executable has no symbol table; rebuild it without -ldflags=-s", err)
		}
	}
	r.waitReasons = names
	return nil
}

func (r *Runtime) readWaitReasons(m dbg.Memory) ([]string, error) {
	n := r.l.waitReasonCount
	if n <= 0 || n > maxWaitReasons {
		return nil, fmt.Errorf("%s has %d entries, expected 1 to %d", symWaitReasons, n, maxWaitReasons)
	}
	p := r.l.ptrSize
	arr := dbg.Region{Addr: r.waitReasonStrings + r.bias, Buf: make([]byte, n*2*p)}
	if err := m.ReadBatch([]dbg.Region{arr}); err != nil {
		return nil, fmt.Errorf("read %s at %#x: %w", symWaitReasons, arr.Addr, err)
	}
	var b batch
	for i := 0; i < n; i++ {
		ptr, size := r.l.ptrAt(arr.Buf, 2*p*i), r.l.ptrAt(arr.Buf, 2*p*i+p)
		if size == 0 {
			continue
		}
		if size > maxWaitReasonLen || ptr == 0 {
			return nil, fmt.Errorf("%s[%d] is not a string (%#x, %d bytes): is the load bias %#x right?", symWaitReasons, i, ptr, size, r.bias)
		}
		b.add(i, ptr, int(size))
	}
	failed, _, err := b.read(m)
	if err != nil || len(failed) > 0 {
		if err == nil {
			err = fmt.Errorf("%d of them unreadable", len(failed))
		}
		return nil, fmt.Errorf("read the strings of %s: %w", symWaitReasons, err)
	}
	names := make([]string, n)
	for i, reg := range b.regions {
		names[b.owners[i]] = string(reg.Buf)
	}
	return names, nil
}

// pageSize is the granularity of mappings.
var pageSize = os.Getpagesize()

// loadBias finds where the executable was loaded: for each mapping of the executable file
// and each PT_LOAD segment that starts inside it, the difference between the mapping's
// address of the segment and the segment's link-time address. All must agree.
func loadBias(typ elf.Type, loads []elf.ProgHeader, maps []dbg.Mapping, exePath string) (uint64, error) {
	if typ == elf.ET_EXEC {
		return 0, nil // linked at a fixed address
	}
	exeMaps := executableMappings(maps, exePath)
	if len(exeMaps) == 0 {
		return 0, fmt.Errorf("no mapping of %s in the target's address space: is it the target's executable?", exePath)
	}
	var bias uint64
	found := false
	for _, m := range exeMaps {
		if m.End <= m.Start {
			continue
		}
		for _, s := range loads {
			// A mapping maps a segment when it starts at the segment's first page. (A
			// segment's offset may also fall inside the previous segment's last page,
			// mapped elsewhere: gcc-linked PIEs do that.)
			if s.Filesz == 0 || s.Off&^uint64(pageSize-1) != m.Offset {
				continue
			}
			b := m.Start + (s.Off - m.Offset) - s.Vaddr
			if found && b != bias {
				return 0, fmt.Errorf("the mappings of %s disagree on its load bias (%#x and %#x): is it the target's executable?", exePath, bias, b)
			}
			bias, found = b, true
		}
	}
	if !found {
		return 0, fmt.Errorf("no mapping of %s matches its ELF segments: is it the target's executable?", exePath)
	}
	return bias, nil
}

// executableMappings returns the file mappings of the executable: those whose path names
// exePath (or what it links to, as /proc/PID/exe does) or the same file.
func executableMappings(maps []dbg.Mapping, exePath string) []dbg.Mapping {
	names := map[string]bool{filepath.Clean(exePath): true}
	if p, err := os.Readlink(exePath); err == nil {
		names[strings.TrimSuffix(p, " (deleted)")] = true
	}
	if p, err := filepath.EvalSymlinks(exePath); err == nil {
		names[p] = true
	}
	exeInfo, exeErr := os.Stat(exePath)
	same := map[string]bool{} // stat results by mapping path
	var out []dbg.Mapping
	for _, m := range maps {
		if m.Path == "" {
			continue
		}
		path := strings.TrimSuffix(m.Path, " (deleted)")
		match, seen := same[path]
		if !seen {
			match = names[path]
			if !match && exeErr == nil {
				if fi, err := os.Stat(path); err == nil {
					match = os.SameFile(fi, exeInfo)
				}
			}
			same[path] = match
		}
		if match {
			out = append(out, m)
		}
	}
	return out
}
