package core

import (
	"bytes"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gorigin-dev/gorigin/dbg"
)

// maxBuildIDNote caps the build ID note gorigin compares.
const maxBuildIDNote = 4096

// findExecutable settles which file is the executable (exePath, or the one the core's
// file mappings name), checks it against the core, and builds the mappings that reads
// from files and Mappings use.
func (c *Core) findExecutable(exePath string) error {
	named := c.exeMappingPath()
	if exePath == "" {
		p, err := c.lookForExecutable(named)
		if err != nil {
			return err
		}
		exePath = p
	}
	if abs, err := filepath.Abs(exePath); err == nil {
		exePath = abs
	}
	ef, err := openRegular(exePath)
	if err != nil {
		if os.IsNotExist(err) {
			return dbg.Errorf(ErrNoExecutable, "the executable %s does not exist: pass the program that dumped %s with --exe BINARY", exePath, c.path)
		}
		return dbg.Errorf(ErrNoExecutable, "the executable cannot be read (%v): pass the program that dumped %s with --exe BINARY", err, c.path)
	}
	defer ef.Close()
	exe, err := elf.NewFile(ef)
	if err != nil {
		return dbg.Errorf(ErrMismatch, "the executable %s cannot be read as an ELF program (%v): pass the program that dumped %s with --exe BINARY", exePath, err, c.path)
	}
	c.exe = exePath

	bias, err := c.exeBias(exe, named)
	if err != nil {
		return err
	}
	c.setMappings(exe, named, bias)
	return c.checkBuildID(exe, bias)
}

// exeMappingPath is the NT_FILE path of the executable: the file mapped where the program
// headers (AT_PHDR) or the entry point are. "" when the core does not say.
func (c *Core) exeMappingPath() string {
	for _, addr := range []uint64{c.notes.auxv[atPhdr], c.notes.entry} {
		if addr == 0 {
			continue
		}
		for _, m := range c.notes.files {
			if m.start <= addr && addr < m.end {
				return m.path
			}
		}
	}
	return ""
}

// lookForExecutable finds the executable from what the core says: the mapped file, or
// the command line's first word when the core lists no files (Delve's dumps).
func (c *Core) lookForExecutable(named string) (string, error) {
	var looked []string
	if named != "" {
		p := strings.TrimSuffix(named, " (deleted)")
		if _, err := os.Stat(p); err == nil {
			return p, nil // if a deleted one was replaced, the build ID check tells
		}
		why := "does not exist"
		if p != named {
			why = "was deleted or replaced after the process started"
		}
		looked = append(looked, fmt.Sprintf("%s (the file the core maps at its program headers) %s", p, why))
	}
	if arg0, _, _ := strings.Cut(c.notes.args, " "); strings.HasPrefix(arg0, "/") && named == "" {
		arg0 = strings.TrimRight(arg0, "\x00")
		if fi, err := os.Stat(arg0); err == nil && fi.Mode().IsRegular() {
			return arg0, nil
		}
		looked = append(looked, fmt.Sprintf("%s (the command line) does not exist", arg0))
	}
	if len(looked) == 0 {
		looked = append(looked, "the core names no executable (no NT_FILE mapping of it, no absolute command line)")
	}
	return "", dbg.Errorf(ErrNoExecutable, "cannot find the executable of %s: %s: pass it with --exe BINARY", c.path, strings.Join(looked, "; "))
}

// exeBias is where the executable was loaded relative to its link-time addresses: from
// the entry point the core records, else from the mappings of the executable.
func (c *Core) exeBias(exe *elf.File, named string) (uint64, error) {
	mismatch := func(format string, args ...any) error {
		return dbg.Errorf(ErrMismatch, "%s is not the program that dumped %s: %s: pass the right one with --exe BINARY", c.exe, c.path, fmt.Sprintf(format, args...))
	}
	if c.notes.entry != 0 {
		bias := c.notes.entry - exe.Entry
		if exe.Type == elf.ET_EXEC && bias != 0 {
			return 0, mismatch("the core's entry point is %#x, the executable's %#x", c.notes.entry, exe.Entry)
		}
		return bias, nil
	}
	if exe.Type == elf.ET_EXEC {
		return 0, nil
	}
	pageMask := uint64(os.Getpagesize() - 1)
	for _, m := range c.notes.files {
		if m.path != named || named == "" {
			continue
		}
		for _, p := range exe.Progs {
			if p.Type == elf.PT_LOAD && p.Filesz > 0 && p.Off&^pageMask == m.offset {
				return m.start + (p.Off - m.offset) - p.Vaddr, nil
			}
		}
	}
	return 0, fmt.Errorf("%s records neither the entry point nor a mapping of %s, so where it was loaded is unknown: %w", c.path, c.exe, ErrNoExecutable)
}

// setMappings makes the file mappings reads fall back to and Mappings reports: the
// core's NT_FILE list with the executable's entries pointing at c.exe or, when the core
// has none for it (Delve's dumps), mappings made from the executable's segments.
func (c *Core) setMappings(exe *elf.File, named string, bias uint64) {
	var files []fileMapping
	haveExe := false
	for _, m := range c.notes.files {
		if named != "" && m.path == named {
			m.path, haveExe = c.exe, true
		}
		files = append(files, m)
	}
	if !haveExe {
		pageMask := uint64(os.Getpagesize() - 1)
		for _, p := range exe.Progs {
			if p.Type != elf.PT_LOAD || p.Filesz == 0 {
				continue
			}
			start := (p.Vaddr + bias) &^ pageMask
			end := p.Vaddr + bias + p.Filesz
			files = append(files, fileMapping{start: start, end: end, offset: p.Off &^ pageMask, path: c.exe})
		}
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].start < files[j].start })
	c.readFiles = files
	for _, m := range files {
		c.maps = append(c.maps, dbg.Mapping{Start: m.start, End: m.end, Offset: m.offset, Perm: c.perm(m.start), Path: m.path})
	}
}

// perm is the permission string of the core segment that holds addr.
func (c *Core) perm(addr uint64) string {
	s, ok := c.segmentAt(addr)
	if !ok {
		return "r--p"
	}
	b := []byte("---p")
	for i, f := range []elf.ProgFlag{elf.PF_R, elf.PF_W, elf.PF_X} {
		if s.flags&f != 0 {
			b[i] = "rwx"[i]
		}
	}
	return string(b)
}

// checkBuildID compares the executable's build ID notes with the bytes the core holds at
// their load addresses. A core usually holds them: they sit in the first page of the
// executable, which the kernel and gcore dump (coredump_filter bit 4). When it holds
// none, there is nothing to compare and the executable is taken on trust.
func (c *Core) checkBuildID(exe *elf.File, bias uint64) error {
	for _, name := range []string{".note.gnu.build-id", ".note.go.buildid"} {
		s := exe.Section(name)
		if s == nil || s.Type != elf.SHT_NOTE || s.Addr == 0 || s.Size == 0 || s.Size > maxBuildIDNote {
			continue
		}
		want, err := s.Data()
		if err != nil {
			continue
		}
		got := make([]byte, len(want))
		if !c.inCore(s.Addr+bias, got) {
			continue
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s is not the program that dumped %s: its build ID is %s, the core's copy of it says %s: pass the right one with --exe BINARY: %w",
				c.exe, c.path, buildID(want, c), buildID(got, c), ErrMismatch)
		}
	}
	return nil
}

// buildID renders the descriptor of a build ID note: hex for GNU's, text for Go's.
func buildID(note []byte, c *Core) string {
	if len(note) < 12 {
		return hex.EncodeToString(note)
	}
	namesz, descsz := uint64(c.order.Uint32(note)), uint64(c.order.Uint32(note[4:]))
	off := uint64(align4(int(min(namesz, maxBuildIDNote)))) + 12
	if off > uint64(len(note)) || descsz > uint64(len(note))-off {
		return hex.EncodeToString(note)
	}
	desc := note[off : off+descsz]
	if name := string(bytes.TrimRight(note[12:12+min(namesz, uint64(len(note)-12))], "\x00")); name == "Go" {
		return fmt.Sprintf("%q", desc)
	}
	return hex.EncodeToString(desc)
}
