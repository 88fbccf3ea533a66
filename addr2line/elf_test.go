package addr2line

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStrippedSameCode checks the assumption the stripped comparisons rest
// on (-s -w drops symbols and DWARF but keeps every function at its
// address), then that the stripped build symbolises every function the
// same as the unstripped one.
func TestStrippedSameCode(t *testing.T) {
	for _, tc := range toolchains {
		t.Run(tc, func(t *testing.T) {
			full, stripped := buildProg(t, tc, "exe"), buildProg(t, tc, "stripped")
			ff, sf := mustELF(t, full), mustELF(t, stripped)
			for _, s := range sf.Sections {
				if s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
					t.Fatalf("stripped build still has section %s", s.Name)
				}
			}
			// The code is not byte-identical: the build settings recorded
			// in rodata grow by "-ldflags=-s -w", which moves rodata and
			// changes PC-relative displacements. The layout of the text
			// and the whole pclntab (function table, line tables, inline
			// trees) must be identical.
			a, b := ff.Section(".text"), sf.Section(".text")
			if a == nil || b == nil || a.Addr != b.Addr || a.Size != b.Size {
				t.Fatalf(".text differs in place or size: %+v, %+v", a.SectionHeader, b.SectionHeader)
			}
			a, b = ff.Section(".gopclntab"), sf.Section(".gopclntab")
			da, errA := a.Data()
			db, errB := b.Data()
			if errA != nil || errB != nil || len(da) == 0 || !bytes.Equal(da, db) {
				t.Fatalf(".gopclntab differs between the stripped and the unstripped build (%v, %v)", errA, errB)
			}
			ft, st := openTable(t, full), openTable(t, stripped)
			n := 0
			for _, s := range funcSymbols(t, full) {
				for pc := s.Value; pc < s.Value+s.Size; pc += 2 {
					a, _ := ft.Lookup(pc)
					b, ok := st.Lookup(pc)
					if !ok || !equalFrames(a, b) {
						t.Fatalf("Lookup(%#x) in %s: unstripped\n%sstripped\n%s", pc, s.Name, fmtFrames(a), fmtFrames(b))
					}
					n++
				}
			}
			if n < 100000 {
				t.Fatalf("only %d PCs compared", n)
			}
		})
	}
}

func mustELF(t testing.TB, path string) *elf.File {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestGoVersion compares GoVersion with debug/buildinfo.
func TestGoVersion(t *testing.T) {
	for _, tc := range toolchains {
		for _, variant := range []string{"exe", "stripped", "pie"} {
			t.Run(tc+"/"+variant, func(t *testing.T) {
				path := buildProg(t, tc, variant)
				bi, err := buildinfo.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if got := openTable(t, path).GoVersion(); got != bi.GoVersion || got != tc {
					t.Fatalf("GoVersion() = %q, debug/buildinfo says %q, built with %s", got, bi.GoVersion, tc)
				}
			})
		}
	}
}

// patch describes a change to a copy of an executable.
type patch func(t *testing.T, data []byte, f *elf.File)

// renameSection renames a section by changing its name in .shstrtab.
func renameSection(name, to string) patch {
	return func(t *testing.T, data []byte, f *elf.File) {
		sh := f.Section(".shstrtab")
		if sh == nil {
			t.Fatal("no .shstrtab")
		}
		tab := data[sh.Offset : sh.Offset+sh.Size]
		i := bytes.Index(tab, []byte(name+"\x00"))
		if i < 0 || len(to) != len(name) {
			t.Fatalf("cannot rename %s", name)
		}
		copy(tab[i:], to)
	}
}

// dropSectionHeaders removes the section header table, as sstrip does.
func dropSectionHeaders(t *testing.T, data []byte, f *elf.File) {
	if f.Class != elf.ELFCLASS64 || f.ByteOrder != binary.LittleEndian {
		t.Skip("patch written for little-endian ELF64")
	}
	clear(data[0x28:0x30]) // e_shoff
	clear(data[0x3c:0x40]) // e_shnum, e_shstrndx
}

// atAddr returns the file offset of a link-time address.
func atAddr(t *testing.T, f *elf.File, addr uint64) uint64 {
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && addr >= p.Vaddr && addr-p.Vaddr < p.Filesz {
			return p.Off + addr - p.Vaddr
		}
	}
	t.Fatalf("address %#x not in the file", addr)
	return 0
}

func symbolAddr(t *testing.T, f *elf.File, name string) uint64 {
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("no symbol %s", name)
	return 0
}

func patchedCopy(t *testing.T, path string, patches ...patch) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(bytes.Clone(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range patches {
		p(t, data, f)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(out, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFallbacks removes what the fast paths use (section names, section
// headers, symbols) and checks that the table found by the fallbacks
// symbolises like the original.
func TestFallbacks(t *testing.T) {
	cases := []struct {
		name    string
		variant string
		patches []patch
	}{
		{"pclntab by symbol", "exe", []patch{renameSection(".gopclntab", ".xopclntab")}},
		{"pclntab by magic", "stripped", []patch{renameSection(".gopclntab", ".xopclntab")}},
		{"buildinfo by magic", "exe", []patch{renameSection(".go.buildinfo", ".xo.buildinfo")}},
		{"no section headers", "stripped", []patch{dropSectionHeaders}},
		{"no section headers, pie", "pie", []patch{dropSectionHeaders}},
	}
	for _, tc := range toolchains {
		for _, c := range cases {
			t.Run(tc+"/"+c.name, func(t *testing.T) {
				orig := buildProg(t, tc, c.variant)
				want := openTable(t, orig)
				got := openTable(t, patchedCopy(t, orig, c.patches...))
				if got.GoVersion() != want.GoVersion() {
					t.Errorf("GoVersion() = %q, want %q", got.GoVersion(), want.GoVersion())
				}
				// Every third PC of the text; every 31st under -short.
				step := uint64(3)
				if testing.Short() {
					step = 31
				}
				n := comparePCs(t, want, got, step)
				if n < 30000/int(step) {
					t.Fatalf("only %d PCs compared", n)
				}
			})
		}
	}
}

// comparePCs compares two tables at every step-th PC of the text and
// returns how many PCs were found in a function.
func comparePCs(t *testing.T, want, got *Table, step uint64) int {
	t.Helper()
	lo, hi := textRange(want)
	n := 0
	for pc := lo - 16; pc < hi+16; pc += step {
		a, okA := want.Lookup(pc)
		b, okB := got.Lookup(pc)
		if okA != okB || !equalFrames(a, b) {
			t.Fatalf("Lookup(%#x): want\n%sgot\n%s", pc, fmtFrames(a), fmtFrames(b))
		}
		if okA {
			n++
		}
	}
	return n
}

// textRange returns the range of PCs the table covers.
func textRange(tab *Table) (lo, hi uint64) {
	first, _ := tab.tab.ftab(0)
	end, _ := tab.tab.ftab(tab.tab.nfunc)
	return tab.text + uint64(first), tab.text + uint64(end)
}

// TestOpenErrors checks that bad input gets an error that says what is
// wrong, not a panic and not a table.
func TestOpenErrors(t *testing.T) {
	exe := buildProg(t, toolchains[0], "exe")
	notELF := filepath.Join(t.TempDir(), "notelf")
	if err := os.WriteFile(notELF, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "truncated")
	if err := os.WriteFile(truncated, data[:len(data)/3], 0o755); err != nil {
		t.Fatal(err)
	}
	setMagic := func(m uint32) patch {
		return func(t *testing.T, data []byte, f *elf.File) {
			binary.LittleEndian.PutUint32(data[f.Section(".gopclntab").Offset:], m)
		}
	}
	hugeSegment := func(t *testing.T, data []byte, f *elf.File) {
		pclntab := f.Section(".gopclntab").Addr
		phoff := binary.LittleEndian.Uint64(data[0x20:])
		for i, p := range f.Progs {
			if p.Type == elf.PT_LOAD && pclntab >= p.Vaddr && pclntab-p.Vaddr < p.Filesz {
				binary.LittleEndian.PutUint64(data[phoff+uint64(i)*56+32:], 1<<39) // p_filesz
				binary.LittleEndian.PutUint64(data[phoff+uint64(i)*56+40:], 1<<39) // p_memsz
				return
			}
		}
		t.Fatal("no segment holds the pclntab")
	}
	noModuledata := func(t *testing.T, data []byte, f *elf.File) {
		off := atAddr(t, f, symbolAddr(t, f, "runtime.firstmoduledata"))
		clear(data[off : off+8])
	}
	cases := []struct {
		name, path, want string
		is               error
	}{
		{"missing file", filepath.Join(t.TempDir(), "nope"), "no such file", nil},
		{"not ELF", notELF, "ELF", nil},
		{"truncated", truncated, "addr2line", nil},
		{"segment past the end of the file", patchedCopy(t, exe, hugeSegment), "segment at", nil},
		{"Go 1.18 pclntab", patchedCopy(t, exe, setMagic(magic118)), "Go 1.18 or 1.19; rebuild the target with Go 1.20 or later", errOldPclntab},
		{"Go 1.16 pclntab", patchedCopy(t, exe, setMagic(magic116)), "Go 1.16 or 1.17", errOldPclntab},
		{"Go 1.2 pclntab", patchedCopy(t, exe, setMagic(magic12)), "Go 1.15 or older", errOldPclntab},
		{"bad magic", patchedCopy(t, exe, setMagic(0x12345678)), "bad pclntab magic", nil},
		{"no moduledata", patchedCopy(t, exe, noModuledata), "moduledata", nil},
		{"not Go", patchedCopy(t, exe, renameSection(".gopclntab", ".xopclntab"), dropSectionHeaders, setMagicAt(t, exe, 0)), "no Go pclntab found", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tab, err := Open(c.path)
			if err == nil {
				t.Fatalf("Open succeeded: %v", tab)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), c.want) || c.is != nil && !errors.Is(err, c.is) {
				t.Fatalf("error %q, want one containing %q", err, c.want)
			}
		})
	}
}

// setMagicAt returns a patch that overwrites the pclntab magic of exe
// (located before other patches run) with m.
func setMagicAt(t *testing.T, exe string, m uint32) patch {
	f := mustELF(t, exe)
	off := f.Section(".gopclntab").Offset
	return func(t *testing.T, data []byte, _ *elf.File) {
		binary.LittleEndian.PutUint32(data[off:], m)
	}
}
