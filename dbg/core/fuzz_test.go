package core

import (
	"debug/elf"
	"testing"
)

// FuzzNotes feeds the note parser arbitrary note segments: it must return an error or a
// result, never panic, and never allocate more than the input can describe. The seeds
// under testdata/fuzz/FuzzNotes are the note segments of real cores (kernel, gcore, dlv
// dump) and damaged copies of them.
func FuzzNotes(f *testing.F) {
	f.Add(note("CORE", ntPrstatus, prstatusDesc(1, 2, 3, 4, 5)))
	f.Add(note("CORE", ntFile, fileDesc(fileMapping{0x1000, 0x2000, 0, "/a"}, fileMapping{0x2000, 0x3000, 0x1000, "/b"})))
	f.Add(note("Delve Header", ntDelveHeader, []byte("linux/amd64\n1.27.2\nTarget Pid: 1\nEntry Point: 0x1\n")))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range []elf.Machine{elf.EM_X86_64, elf.EM_AARCH64, elf.EM_386} {
			var n notes
			err := parseNotes(&n, b, le, m)
			if err == nil && len(n.files) > len(b)/24 {
				t.Fatalf("%d file mappings from %d bytes", len(n.files), len(b))
			}
		}
	})
}
