package gstruct

import (
	"debug/dwarf"
	"debug/elf"
)

// loadDWARF reads just the DWARF sections gstruct walks — the entries of .debug_info with
// their abbreviations and strings — and not the line, frame, location and range tables that
// (*elf.File).DWARF decompresses too and gstruct never looks at: at 100,000 goroutines
// reading the executable was the largest part of an attach, and those tables are most of
// the compressed DWARF (measured on bigtarget: 45 ms instead of 135 ms). Anything unusual
// (old-style .zdebug sections, a relocatable file, a section that does not decompress) goes
// the standard way.
func loadDWARF(f *elf.File) (*dwarf.Data, error) {
	if f.Type == elf.ET_REL || f.Section(".debug_info") == nil || f.Section(".debug_abbrev") == nil {
		return f.DWARF()
	}
	get := func(name string) ([]byte, bool) {
		s := f.Section(name)
		if s == nil {
			return nil, true
		}
		if s.Type == elf.SHT_NOBITS {
			return nil, false
		}
		b, err := s.Data()
		return b, err == nil
	}
	abbrev, ok1 := get(".debug_abbrev")
	info, ok2 := get(".debug_info")
	str, ok3 := get(".debug_str")
	if !ok1 || !ok2 || !ok3 {
		return f.DWARF()
	}
	d, err := dwarf.New(abbrev, nil, nil, info, nil, nil, nil, str)
	if err != nil {
		return f.DWARF()
	}
	// DWARF 5 forms (strx, addrx) index these.
	for _, name := range []string{".debug_addr", ".debug_str_offsets", ".debug_line_str"} {
		b, ok := get(name)
		if !ok {
			return f.DWARF()
		}
		if b != nil {
			if err := d.AddSection(name, b); err != nil {
				return f.DWARF()
			}
		}
	}
	return d, nil
}

// complete says whether an index of the "runtime" units has everything layoutFromDWARF
// looks up: runtime.g, the wait reason names, the status constants and the pprof label
// types (a map's hmap and bucket where labelMap is a map, Go ≤ 1.23).
func (ix *dwarfIndex) complete() bool {
	_, g := ix.types[typeG]
	_, lm := ix.types[typeLabelMap]
	_, w := ix.vars[varWaitStrs]
	_, gw := ix.consts["runtime._Gwaiting"]
	_, h := ix.types[typeHmap]
	_, b := ix.types[typeBucket]
	return g && lm && w && gw && h == b
}
