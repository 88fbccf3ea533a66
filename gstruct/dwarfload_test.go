package gstruct

import (
	"debug/elf"
	"maps"
	"testing"
)

// TestDWARFShortcuts checks the two shortcuts of reading DWARF against the standard way,
// for every toolchain: loadDWARF (only .debug_info and what its entries need) against
// (*elf.File).DWARF, and the index of the "runtime" units against the index of all units.
func TestDWARFShortcuts(t *testing.T) {
	for _, tc := range []string{"go1.20.14", "go1.23.12", "local", "go1.27.3"} {
		t.Run(tc, func(t *testing.T) {
			bin := buildFixture(t, tc)
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			full, err := f.DWARF()
			if err != nil {
				t.Fatal(err)
			}
			short, err := loadDWARF(f)
			if err != nil {
				t.Fatal(err)
			}
			all, err := indexUnits(full, false)
			if err != nil {
				t.Fatal(err)
			}
			fast, err := indexUnits(short, true)
			if err != nil {
				t.Fatal(err)
			}
			if !fast.complete() {
				t.Errorf("the runtime units lack something: types %v vars %v, %d consts", fast.types, fast.vars, len(fast.consts))
			}
			if !all.complete() {
				t.Errorf("the whole DWARF lacks something: types %v vars %v", all.types, all.vars)
			}
			if !maps.Equal(fast.types, all.types) || !maps.Equal(fast.vars, all.vars) || !maps.Equal(fast.consts, all.consts) {
				t.Errorf("index of the runtime units differs from the whole:\ntypes %v\n   vs %v\nvars %v vs %v\n%d consts vs %d", fast.types, all.types, fast.vars, all.vars, len(fast.consts), len(all.consts))
			}
			l1, err := layoutFromDWARF(full, 8, f.ByteOrder, 0)
			if err != nil {
				t.Fatal(err)
			}
			l2, err := layoutFromDWARF(short, 8, f.ByteOrder, 0)
			if err != nil {
				t.Fatal(err)
			}
			if l1.gSize != l2.gSize || l1.goid != l2.goid || l1.schedSP != l2.schedSP || l1.labels != l2.labels ||
				l1.labelMap != l2.labelMap || !maps.Equal(l1.statuses, l2.statuses) || l1.waitReasonCount != l2.waitReasonCount {
				t.Errorf("layouts differ:\n%+v\n%+v", l1, l2)
			}
		})
	}
}
