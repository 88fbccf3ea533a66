package addr2line

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"testing"
)

// corpusBase is a real executable and what the corruption tests aim at.
type corpusBase struct {
	data       []byte
	pclntabOff int      // file offset of the pclntab
	mdOff      int      // file offset of runtime.firstmoduledata
	gofuncOff  int      // file offset of moduledata.gofunc
	pcs        []uint64 // PCs to look up: entries, interiors and outsiders
}

func loadCorpusBase(t testing.TB) *corpusBase {
	t.Helper()
	path := buildProg(t, toolchains[0], "exe")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := NewTable(f)
	if err != nil {
		t.Fatal(err)
	}
	fileOff := func(addr uint64) int {
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD && addr >= p.Vaddr && addr-p.Vaddr < p.Filesz {
				return int(p.Off + addr - p.Vaddr)
			}
		}
		t.Fatalf("address %#x not in the file", addr)
		return 0
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	b := &corpusBase{data: data, pclntabOff: int(f.Section(".gopclntab").Offset), gofuncOff: fileOff(tab.gofunc)}
	for _, s := range syms {
		if s.Name == "runtime.firstmoduledata" {
			b.mdOff = fileOff(s.Value)
		}
	}
	lo, hi := textRange(tab)
	b.pcs = []uint64{0, lo - 1, hi, hi + 1, ^uint64(0)}
	for i := 0; i < tab.tab.nfunc; i += 7 {
		e, _ := tab.tab.ftab(i)
		b.pcs = append(b.pcs, tab.text+uint64(e), tab.text+uint64(e)+5, tab.text+uint64(e)+40)
	}
	return b
}

// symbolise opens a (corrupt) executable and looks up the base's PCs; it
// must never panic, whatever the bytes. It reports whether NewTable
// accepted the executable.
func symbolise(data []byte, pcs []uint64) bool {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return false
	}
	tab, err := NewTable(f)
	if err != nil {
		return false
	}
	for _, pc := range pcs {
		tab.Lookup(pc)
		tab.Func(pc)
	}
	tab.GoVersion()
	return true
}

// FuzzOpen overwrites bytes of a real executable, at an offset counted
// from its pclntab (so small offsets hit the header and the function
// table), and asserts that opening and symbolising it does not panic.
func FuzzOpen(f *testing.F) {
	b := loadCorpusBase(f)
	rel := func(off int) uint32 { return uint32((off - b.pclntabOff + len(b.data)) % len(b.data)) }
	le := binary.LittleEndian
	for _, seed := range []struct {
		off   uint32
		patch []byte
	}{
		{0, nil},
		{0, le.AppendUint32(nil, magic118)},
		{6, []byte{3, 8}},                      // quantum
		{8, le.AppendUint64(nil, 1<<40)},       // nfunc
		{32, le.AppendUint64(nil, 1<<62)},      // funcnameOffset
		{56, le.AppendUint64(nil, 7)},          // pctabOffset
		{64, le.AppendUint64(nil, ^uint64(0))}, // pclnOffset
		{rel(b.mdOff), make([]byte, 8)},        // moduledata.pcHeader
		{rel(b.mdOff + 8*40), []byte{1, 2, 3}}, // moduledata.gofunc
		{rel(b.gofuncOff), bytes.Repeat([]byte{0xff}, 64)},
		{rel(0x3c), []byte{0xff, 0xff}}, // e_shnum
	} {
		f.Add(seed.off, seed.patch)
	}
	f.Fuzz(func(t *testing.T, off uint32, patch []byte) {
		data := bytes.Clone(b.data)
		copy(data[(b.pclntabOff+int(off))%len(data):], patch)
		symbolise(data, b.pcs)
	})
}

// TestCorruptNoPanic runs a fixed set of random corruptions of the pclntab,
// the moduledata and the inline trees on every test run.
func TestCorruptNoPanic(t *testing.T) {
	b := loadCorpusBase(t)
	rng := rand.New(rand.NewPCG(1, 2))
	regions := []struct{ off, size int }{
		{b.pclntabOff, 80},      // pcHeader
		{b.pclntabOff, 1 << 20}, // anywhere in or after the pclntab
		{b.mdOff, 8 * 45},       // moduledata
		{b.gofuncOff, 64 << 10}, // funcdata: inline trees
	}
	const runs = 400
	opened := 0
	for i := 0; i < runs; i++ {
		r := regions[i%len(regions)]
		data := bytes.Clone(b.data)
		for n := 1 + rng.IntN(8); n > 0; n-- {
			o := (r.off + rng.IntN(r.size)) % len(data)
			switch rng.IntN(3) {
			case 0:
				data[o] = byte(rng.Uint32())
			case 1:
				data[o] ^= 1 << rng.IntN(8)
			default:
				data[o] = []byte{0, 0xff, 0x7f, 0x80}[rng.IntN(4)]
			}
		}
		if symbolise(data, b.pcs) {
			opened++
		}
	}
	t.Logf("%d of %d corrupt executables opened and were symbolised", opened, runs)
	if opened < runs/4 {
		t.Fatalf("only %d of %d corrupt executables opened: the lookups were hardly exercised", opened, runs)
	}
}
