package core

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/dbg"
)

var le = binary.LittleEndian

// note encodes one ELF note as the kernel writes it.
func note(name string, typ uint32, desc []byte) []byte {
	var b bytes.Buffer
	nb := []byte(name)
	if name != "" {
		nb = append(nb, 0)
	}
	binary.Write(&b, le, uint32(len(nb)))
	binary.Write(&b, le, uint32(len(desc)))
	binary.Write(&b, le, typ)
	b.Write(nb)
	b.Write(make([]byte, align4(len(nb))-len(nb)))
	b.Write(desc)
	b.Write(make([]byte, align4(len(desc))-len(desc)))
	return b.Bytes()
}

func prstatusDesc(tid int32, pc, sp, bp, fs uint64) []byte {
	d := make([]byte, 336)
	le.PutUint32(d[32:], uint32(tid))
	le.PutUint64(d[112+8*4:], bp)
	le.PutUint64(d[112+8*16:], pc)
	le.PutUint64(d[112+8*19:], sp)
	le.PutUint64(d[112+8*21:], fs)
	return d
}

func prpsinfoDesc(pid int32, fname, args string) []byte {
	d := make([]byte, 136)
	le.PutUint32(d[24:], uint32(pid))
	copy(d[40:55], fname)
	copy(d[56:135], args)
	return d
}

func auxvDesc(kv ...uint64) []byte {
	var b bytes.Buffer
	for _, x := range append(kv, atNull, 0) {
		binary.Write(&b, le, x)
	}
	return b.Bytes()
}

func fileDesc(files ...fileMapping) []byte {
	var b bytes.Buffer
	binary.Write(&b, le, uint64(len(files)))
	binary.Write(&b, le, uint64(4096))
	for _, f := range files {
		binary.Write(&b, le, []uint64{f.start, f.end, f.offset / 4096})
	}
	for _, f := range files {
		b.WriteString(f.path + "\x00")
	}
	return b.Bytes()
}

func TestParseNotes(t *testing.T) {
	var seg []byte
	first := prstatusDesc(101, 0x401000, 0xc000, 0xc010, 0x7f00)
	le.PutUint64(first[112+8*10:], 0xc000123450) // rax: only in Regs
	seg = append(seg, note("CORE", ntPrstatus, first)...)
	seg = append(seg, note("CORE", ntPrpsinfo, prpsinfoDesc(100, "server", "/srv/server -v"))...)
	seg = append(seg, note("LINUX", ntPrstatus, make([]byte, 8))...) // another owner's type 1: skipped
	seg = append(seg, note("CORE", ntAuxv, auxvDesc(atPhdr, 0x400040, atEntry, 0x401000))...)
	seg = append(seg, note("CORE", ntFile, fileDesc(
		fileMapping{0x400000, 0x402000, 0, "/srv/server"},
		fileMapping{0x7f0000, 0x7f1000, 0x3000, "/lib/libc.so.6"}))...)
	seg = append(seg, note("", ntPrstatus, prstatusDesc(102, 0x401010, 0xd000, 0, 0))...) // Delve: no name
	var n notes
	if err := parseNotes(&n, seg, le, elf.EM_X86_64); err != nil {
		t.Fatal(err)
	}
	want := []thread{{tid: 101, pc: 0x401000, sp: 0xc000, bp: 0xc010, fs: 0x7f00}, {tid: 102, pc: 0x401010, sp: 0xd000}}
	same := func(a, b thread) bool {
		return a.tid == b.tid && a.pc == b.pc && a.sp == b.sp && a.bp == b.bp && a.fs == b.fs
	}
	if len(n.threads) != 2 || !same(n.threads[0], want[0]) || !same(n.threads[1], want[1]) {
		t.Errorf("threads %+v, want %+v", n.threads, want)
	} else if r := n.threads[0].regs; len(r) != 27 || r[10] != 0xc000123450 || r[16] != 0x401000 || r[19] != 0xc000 {
		t.Errorf("registers of thread 101: %#x, want 27 with rax 0xc000123450, rip 0x401000, rsp 0xc000", r)
	}
	if n.pid != 100 || n.command != "server" || n.args != "/srv/server -v" {
		t.Errorf("prpsinfo: pid %d command %q args %q", n.pid, n.command, n.args)
	}
	if n.entry != 0x401000 || n.auxv[atPhdr] != 0x400040 {
		t.Errorf("auxv: entry %#x, phdr %#x", n.entry, n.auxv[atPhdr])
	}
	wantFiles := []fileMapping{{0x400000, 0x402000, 0, "/srv/server"}, {0x7f0000, 0x7f1000, 0x3000, "/lib/libc.so.6"}}
	if !n.hasFile || len(n.files) != 2 || n.files[0] != wantFiles[0] || n.files[1] != wantFiles[1] {
		t.Errorf("files %+v, want %+v", n.files, wantFiles)
	}
}

func TestParseNotesDelveHeader(t *testing.T) {
	var n notes
	seg := note("Delve Header", ntDelveHeader, []byte("linux/amd64\n1.27.2\nTarget Pid: 4242\nEntry Point: 0x45f000\n"))
	if err := parseNotes(&n, seg, le, elf.EM_X86_64); err != nil {
		t.Fatal(err)
	}
	if n.pid != 4242 || n.entry != 0x45f000 {
		t.Errorf("pid %d entry %#x, want 4242 0x45f000", n.pid, n.entry)
	}
}

func TestParseNotesRejectsDamage(t *testing.T) {
	good := note("CORE", ntFile, fileDesc(fileMapping{0x1000, 0x2000, 0, "/a"}))
	cases := map[string][]byte{
		"name past the end":        {0xff, 0xff, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0},
		"desc past the end":        append(note("CORE", ntAuxv, nil)[:4:4], 0xff, 0xff, 0xff, 0, 6, 0, 0, 0, 'C', 'O', 'R', 'E', 0, 0, 0, 0),
		"short prstatus":           note("CORE", ntPrstatus, make([]byte, 100)),
		"short prpsinfo":           note("CORE", ntPrpsinfo, make([]byte, 100)),
		"NT_FILE count too large":  note("CORE", ntFile, append(le.AppendUint64(nil, 1<<40), le.AppendUint64(nil, 4096)...)),
		"NT_FILE unterminated":     good[:len(good)-4],
		"NT_FILE page size 3":      note("CORE", ntFile, append(le.AppendUint64(nil, 0), le.AppendUint64(nil, 3)...)),
		"NT_FILE end before start": note("CORE", ntFile, fileDesc(fileMapping{0x2000, 0x1000, 0, "/a"})),
	}
	for name, seg := range cases {
		t.Run(name, func(t *testing.T) {
			var n notes
			if err := parseNotes(&n, seg, le, elf.EM_X86_64); !errors.Is(err, errNote) {
				t.Errorf("parseNotes: %v, want a malformed note error", err)
			}
		})
	}
}

// writeCore writes a minimal x86-64 ELF core: notes, then each segment's bytes.
func writeCore(t *testing.T, path string, notesSeg []byte, segs []elf.Prog64, data [][]byte) {
	t.Helper()
	var b bytes.Buffer
	phnum := len(segs) + 1
	hdr := elf.Header64{Type: uint16(elf.ET_CORE), Machine: uint16(elf.EM_X86_64), Version: 1,
		Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: uint16(phnum)}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	binary.Write(&b, le, hdr)
	off := uint64(64 + 56*phnum)
	binary.Write(&b, le, elf.Prog64{Type: uint32(elf.PT_NOTE), Off: off, Filesz: uint64(len(notesSeg))})
	off += uint64(len(notesSeg))
	for i := range segs {
		segs[i].Type, segs[i].Off = uint32(elf.PT_LOAD), off
		off += segs[i].Filesz
		binary.Write(&b, le, segs[i])
	}
	b.Write(notesSeg)
	for _, d := range data {
		b.Write(d)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReadBatch reads memory the core holds, memory it left out that a mapped file
// holds, and memory neither holds, in one batch.
func TestReadBatch(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "lib.so")
	libBytes := bytes.Repeat([]byte("0123456789abcdef"), 4096/16*3) // 3 pages
	if err := os.WriteFile(lib, libBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	heap := bytes.Repeat([]byte{0xaa}, 4096)
	libHead := bytes.Repeat([]byte{0xbb}, 4096) // the core's copy of lib's first page differs
	// Open needs an executable: /bin/true stands in, loaded far from everything else.
	exe, err := elf.Open("/bin/true")
	if err != nil {
		t.Skipf("no /bin/true to stand in for the executable: %v", err)
	}
	exe.Close()
	seg := note("CORE", ntFile, fileDesc(fileMapping{0x10000, 0x13000, 0, lib}))
	seg = append(seg, note("CORE", ntAuxv, auxvDesc(atEntry, 0x7000000000+exe.Entry))...)
	path := filepath.Join(dir, "core")
	writeCore(t, path, seg,
		[]elf.Prog64{
			{Vaddr: 0x10000, Filesz: 4096, Memsz: 0x3000, Flags: uint32(elf.PF_R | elf.PF_X)}, // first page in the core, the rest in lib
			{Vaddr: 0x20000, Filesz: 4096, Memsz: 4096, Flags: uint32(elf.PF_R | elf.PF_W)},
			{Vaddr: 0x30000, Filesz: 0, Memsz: 4096}, // left out, no file
		},
		[][]byte{libHead, heap})
	c, err := Open(path, "/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	regions := []dbg.Region{
		{Addr: 0x20010, Buf: make([]byte, 16)},
		{Addr: 0x10ff8, Buf: make([]byte, 16)}, // straddles the core's page and the file's
		{Addr: 0x12000, Buf: make([]byte, 4096)},
		{Addr: 0x30000, Buf: make([]byte, 8)},
		{Addr: 0x50000, Buf: make([]byte, 8)},
	}
	err = c.ReadBatch(regions)
	var re *dbg.ReadError
	if !errors.As(err, &re) || len(re.Failed) != 2 || re.Failed[0] != 3 || re.Failed[1] != 4 {
		t.Fatalf("ReadBatch: %v, want regions 3 and 4 unreadable", err)
	}
	if !bytes.Equal(regions[0].Buf, heap[16:32]) {
		t.Errorf("heap read %x", regions[0].Buf)
	}
	if want := append(append([]byte{}, libHead[4088:]...), libBytes[4096:4104]...); !bytes.Equal(regions[1].Buf, want) {
		t.Errorf("straddling read %q, want %q", regions[1].Buf, want)
	}
	if !bytes.Equal(regions[2].Buf, libBytes[0x2000:0x3000]) {
		t.Errorf("file-backed read differs from the file")
	}
	maps, _ := c.Mappings()
	if len(maps) < 2 || maps[0].Path != lib || maps[0].Perm != "r-xp" || maps[1].Path != "/bin/true" || maps[1].Start < 0x7000000000 {
		t.Errorf("Mappings %+v, want lib's and then /bin/true's, made from its segments", maps)
	}
}

func TestOpenRejects(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "core")
	writeCore(t, path, nil, []elf.Prog64{{Vaddr: 0x1000, Filesz: 4096, Memsz: 4096}}, [][]byte{make([]byte, 4096)})
	full, _ := os.ReadFile(path)
	cut := filepath.Join(dir, "cut")
	os.WriteFile(cut, full[:len(full)-100], 0o644)
	text := filepath.Join(dir, "text")
	os.WriteFile(text, []byte("goroutine 1 [running]:\n"), 0o644)
	cases := []struct {
		name, core, exe string
		err             error
		says            string
	}{
		{"text", text, "/bin/true", ErrNotCore, "not an ELF file"},
		{"program", "/bin/true", "/bin/true", ErrNotCore, "not a core"},
		{"truncated", cut, "/bin/true", ErrTruncated, "cut short"},
		{"no executable named", path, "", ErrNoExecutable, "--exe"},
		{"missing executable", path, filepath.Join(dir, "gone"), ErrNoExecutable, "does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(c.core, c.exe)
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("Open: %v, want %v saying %q", err, c.err, c.says)
			}
		})
	}
}
