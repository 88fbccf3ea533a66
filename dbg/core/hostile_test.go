package core

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// duplicateNotesCore is the crafted core of issue 17: n PT_NOTE headers that all point at
// the same note segment of NT_PRSTATUS notes, and one PT_LOAD.
func duplicateNotesCore(n, noteBytes int) []byte {
	var notes []byte
	for len(notes) < noteBytes {
		notes = append(notes, note("CORE", ntPrstatus, prstatusDesc(1, 2, 3, 4, 5))...)
	}
	var b bytes.Buffer
	hdr := elf.Header64{Type: uint16(elf.ET_CORE), Machine: uint16(elf.EM_X86_64), Version: 1,
		Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: uint16(n + 1)}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	binary.Write(&b, le, hdr)
	noteOff := uint64(64 + 56*(n+1))
	loadOff := noteOff + uint64(len(notes))
	binary.Write(&b, le, elf.Prog64{Type: uint32(elf.PT_LOAD), Off: loadOff, Vaddr: 0x400000, Filesz: 4096, Memsz: 4096})
	for range n {
		binary.Write(&b, le, elf.Prog64{Type: uint32(elf.PT_NOTE), Off: noteOff, Filesz: uint64(len(notes))})
	}
	b.Write(notes)
	b.Write(make([]byte, 4096))
	return b.Bytes()
}

// TestOpenRefusesDuplicateNotes: a 1 MB core whose thousands of note headers point at
// the same bytes (2.2 GB before) is refused as not a core, having allocated about its
// own size; the same notes under one header are read.
func TestOpenRefusesDuplicateNotes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "core")
	data := duplicateNotesCore(4000, 700_000)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	used := allocated(func() { _, err = Open(path, "/bin/true") })
	if !errors.Is(err, ErrNotCore) || !strings.Contains(err.Error(), "overlap") {
		t.Fatalf("Open: %v, want ErrNotCore saying the notes overlap", err)
	}
	if used > 4*uint64(len(data)) {
		t.Errorf("refusing a %d-byte core allocated %d bytes", len(data), used)
	}
	var n notes
	one := duplicateNotesCore(1, 700_000)
	seg := one[64+56*2 : len(one)-4096]
	if err := parseNotes(&n, seg, le, elf.EM_X86_64); err != nil || len(n.threads) != len(seg)/len(note("CORE", ntPrstatus, prstatusDesc(1, 2, 3, 4, 5))) {
		t.Errorf("the same notes under one header: %d threads, %v", len(n.threads), err)
	}
}

// allocated is how many bytes f allocated (runtime.MemStats.TotalAlloc).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestOpenNeverBlocksOnAFIFO: a core whose NT_FILE names a FIFO as the executable (or as
// a mapped file), and a FIFO given as the core, are refused at once: an open of a FIFO
// without a writer would block forever (gorigin core hung), so nothing here is given one.
// If the fix regresses, this test hangs until go test's -timeout ends it.
func TestOpenNeverBlocksOnAFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	const entry = 0x401000
	seg := note("CORE", ntFile, fileDesc(fileMapping{0x400000, 0x402000, 0, fifo}))
	seg = append(seg, note("CORE", ntAuxv, auxvDesc(atEntry, entry))...)
	path := filepath.Join(dir, "core")
	writeCore(t, path, seg, []elf.Prog64{{Vaddr: 0x600000, Filesz: 4096, Memsz: 4096}}, [][]byte{make([]byte, 4096)})

	_, err := Open(path, "")
	if !errors.Is(err, ErrNoExecutable) || !strings.Contains(err.Error(), "named pipe") {
		t.Errorf("Open of a core naming a FIFO as its executable: %v, want ErrNoExecutable saying it is a named pipe", err)
	}
	_, err = Open(fifo, "/bin/true")
	if !errors.Is(err, ErrNotCore) || !strings.Contains(err.Error(), "named pipe") {
		t.Errorf("Open of a FIFO as the core: %v, want ErrNotCore saying it is a named pipe", err)
	}
	c := &Core{files: map[string]*mappedFile{}}
	if err := c.readFile(fifo, 0, make([]byte, 8)); err == nil || !strings.Contains(err.Error(), "named pipe") {
		t.Errorf("reading a mapped FIFO: %v, want a refusal", err)
	}
}

// FuzzOpen feeds Open whole core files: it must never panic or block, and never
// allocate more than a small multiple of the file (the notes and program headers it
// decodes are at most the file's size). Seeds: a small core of TestReadBatch's shape
// and the duplicate-notes core of issue 17.
func FuzzOpen(f *testing.F) {
	f.Add(duplicateNotesCore(50, 4000))
	f.Add(duplicateNotesCore(1, 2000))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "core")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var c *Core
		used := allocated(func() { c, _ = Open(path, "/bin/true") })
		if c != nil {
			c.Close()
		}
		if limit := 8<<20 + 64*uint64(len(data)); used > limit {
			t.Fatalf("Open of a %d-byte core allocated %d (limit %d)", len(data), used, limit)
		}
	})
}
