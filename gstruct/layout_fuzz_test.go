package gstruct

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"testing"
)

// FuzzLayoutDWARF overwrites bytes of a real executable's .debug_info near the DIE of
// runtime.g (a target binary is untrusted input, and its DWARF gives gorigin the layout
// it decodes memory with). layoutFromDWARF must not panic, and a layout it returns must
// keep every field inside a runtime.g of a plausible size. Seeds are patches of the
// g DIE's header, its size and its first members.
func FuzzLayoutDWARF(f *testing.F) {
	bin := buildFixture(f, "local")
	sec, gOff := dwarfSections(f, bin)
	for _, seed := range []struct {
		off   uint32
		patch []byte
	}{
		{0, nil},
		{0, []byte{0}},                      // the abbrev code: a null entry
		{1, []byte{0xff, 0xff, 0xff, 0x0f}}, // the name or byte size
		{4, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
		{12, bytes.Repeat([]byte{0xff}, 8)},
		{40, []byte{0x7f, 0x7f, 0x7f}},
	} {
		f.Add(seed.off, seed.patch)
	}
	f.Fuzz(func(t *testing.T, off uint32, patch []byte) {
		info := bytes.Clone(sec[".debug_info"])
		copy(info[(gOff+int(off))%len(info):], patch)
		d, err := newDWARF(sec, info)
		if err != nil {
			return
		}
		l, err := layoutFromDWARF(d, 8, binary.LittleEndian, 26)
		if err != nil {
			return
		}
		if l.gSize <= 0 || l.gSize > maxGSize {
			t.Fatalf("runtime.g of %d bytes accepted", l.gSize)
		}
		for _, fl := range []field{l.goid, l.status, l.waitsince, l.waitreason, l.gopc, l.startpc, l.stackLo, l.stackHi, l.m, l.lockedm, l.labels, l.schedSP, l.schedPC} {
			if fl.off < 0 || fl.size < 0 || fl.off+fl.size > l.gSize {
				t.Fatalf("field at %d+%d outside runtime.g's %d bytes", fl.off, fl.size, l.gSize)
			}
		}
	})
}

// dwarfSections reads bin's DWARF sections (decompressed) and finds the offset of
// runtime.g's DIE in .debug_info.
func dwarfSections(f *testing.F, bin string) (map[string][]byte, int) {
	ef, err := elf.Open(bin)
	if err != nil {
		f.Fatal(err)
	}
	defer ef.Close()
	sec := map[string][]byte{}
	for _, s := range ef.Sections {
		if len(s.Name) > 7 && s.Name[:7] == ".debug_" || len(s.Name) > 8 && s.Name[:8] == ".zdebug_" {
			b, err := s.Data()
			if err != nil {
				f.Fatal(err)
			}
			sec[".debug_"+s.Name[bytes.IndexByte([]byte(s.Name), '_')+1:]] = b
		}
	}
	d, err := ef.DWARF()
	if err != nil {
		f.Fatal(err)
	}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			f.Fatalf("no runtime.g in %s's DWARF: %v", bin, err)
		}
		if e.Tag == dwarf.TagStructType && e.Val(dwarf.AttrName) == typeG {
			return sec, int(e.Offset)
		}
	}
}

// newDWARF is debug/elf's File.DWARF on already decompressed sections, with info in
// place of .debug_info.
func newDWARF(sec map[string][]byte, info []byte) (*dwarf.Data, error) {
	d, err := dwarf.New(sec[".debug_abbrev"], nil, nil, info, sec[".debug_line"], nil, sec[".debug_ranges"], sec[".debug_str"])
	if err != nil {
		return nil, err
	}
	for _, name := range []string{".debug_addr", ".debug_line_str", ".debug_loclists", ".debug_rnglists", ".debug_str_offsets"} {
		if b, ok := sec[name]; ok {
			if err := d.AddSection(name, b); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}
