package gstruct

import (
	"debug/elf"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/dbg"
)

func TestLoadBias(t *testing.T) {
	// The PT_LOADs of a Go PIE: text at file offset 0, rodata and data after it.
	pie := []elf.ProgHeader{
		{Type: elf.PT_LOAD, Off: 0, Vaddr: 0, Filesz: 0x9a000},
		{Type: elf.PT_LOAD, Off: 0x9b000, Vaddr: 0x9b000, Filesz: 0x50000},
		{Type: elf.PT_LOAD, Off: 0xeb9a0, Vaddr: 0xec9a0, Filesz: 0x3000},
	}
	const exe = "/srv/app"
	const base = 0x55d0_0000_0000
	tests := []struct {
		name    string
		typ     elf.Type
		maps    []dbg.Mapping
		want    uint64
		wantErr string
	}{
		{
			name: "non-PIE is linked where it runs",
			typ:  elf.ET_EXEC,
			want: 0,
		},
		{
			name: "PIE: every segment's mapping agrees",
			typ:  elf.ET_DYN,
			maps: []dbg.Mapping{
				{Start: base, End: base + 0x9a000, Offset: 0, Perm: "r-xp", Path: exe},
				{Start: base + 0x9b000, End: base + 0xeb000, Offset: 0x9b000, Perm: "r--p", Path: exe},
				{Start: base + 0xec000, End: base + 0xef000, Offset: 0xeb000, Perm: "rw-p", Path: exe},
				{Start: base + 0xef000, End: base + 0xf9000, Perm: "rw-p"}, // bss
				{Start: 0x7f00_0000_0000, End: 0x7f00_0000_1000, Path: "/lib/other.so"},
			},
			want: base,
		},
		{
			name: "PIE: a deleted executable still matches",
			typ:  elf.ET_DYN,
			maps: []dbg.Mapping{{Start: base, End: base + 0x9a000, Offset: 0, Perm: "r-xp", Path: exe + " (deleted)"}},
			want: base,
		},
		{
			name:    "PIE: no mapping of the executable",
			typ:     elf.ET_DYN,
			maps:    []dbg.Mapping{{Start: base, End: base + 0x1000, Path: "/bin/other"}},
			wantErr: "no mapping of /srv/app",
		},
		{
			name: "PIE: mappings that disagree",
			typ:  elf.ET_DYN,
			maps: []dbg.Mapping{
				{Start: base, End: base + 0x9a000, Offset: 0, Path: exe},
				{Start: base + 0x1000 + 0x9b000, End: base + 0x1000 + 0xeb000, Offset: 0x9b000, Path: exe},
			},
			wantErr: "disagree",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := loadBias(tc.typ, pie, tc.maps, exe)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("loadBias = %#x, %v; want error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("loadBias = %#x, %v; want %#x", got, err, tc.want)
			}
		})
	}
}
