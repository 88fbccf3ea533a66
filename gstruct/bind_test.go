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
		loads   []elf.ProgHeader // default: pie
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
			// readelf and /proc/PID/maps of a Go 1.27 cgo PIE linked by gcc: the RW
			// segment starts at file offset 0x61e930, inside the last page of the
			// mapping of the segment before it, but is mapped on its own.
			name: "PIE linked by gcc: a segment starting in the previous mapping's file range",
			typ:  elf.ET_DYN,
			loads: []elf.ProgHeader{
				{Type: elf.PT_LOAD, Off: 0, Vaddr: 0, Filesz: 0xb3148},
				{Type: elf.PT_LOAD, Off: 0xb4000, Vaddr: 0xb4000, Filesz: 0x2edc51},
				{Type: elf.PT_LOAD, Off: 0x3a2000, Vaddr: 0x3a2000, Filesz: 0x27c4b4},
				{Type: elf.PT_LOAD, Off: 0x61e930, Vaddr: 0x61f930, Filesz: 0xf2b11},
			},
			maps: []dbg.Mapping{
				{Start: 0x555d4a23e000, End: 0x555d4a2f2000, Offset: 0, Perm: "r--p", Path: exe},
				{Start: 0x555d4a2f2000, End: 0x555d4a5e0000, Offset: 0xb4000, Perm: "r-xp", Path: exe},
				{Start: 0x555d4a5e0000, End: 0x555d4a85d000, Offset: 0x3a2000, Perm: "r--p", Path: exe},
				{Start: 0x555d4a85d000, End: 0x555d4a904000, Offset: 0x61e000, Perm: "r--p", Path: exe},
				{Start: 0x555d4a904000, End: 0x555d4a951000, Offset: 0x6c5000, Perm: "rw-p", Path: exe},
			},
			want: 0x555d4a23e000,
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
			loads := pie
			if tc.loads != nil {
				loads = tc.loads
			}
			got, err := loadBias(tc.typ, loads, tc.maps, exe)
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
