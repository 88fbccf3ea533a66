package gstruct

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFindRuntimeVars finds runtime.allgs, runtime.allglen and runtime.waitReasonStrings
// from machine code in builds that still have their symbol table, and checks the addresses
// against the symbols (the search itself never looks at them).
func TestFindRuntimeVars(t *testing.T) {
	for _, tc := range toolchains {
		for _, mode := range []string{"exe", "pie"} {
			t.Run(tc+"-"+mode, func(t *testing.T) {
				f, err := elf.Open(buildFixture(t, tc, "-buildmode="+mode))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				want := map[string]elf.Symbol{}
				syms, err := f.Symbols()
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range syms {
					want[s.Name] = s
				}
				v, err := findRuntimeVars(scanner(t, f))
				if err != nil {
					t.Fatalf("findRuntimeVars: %v", err)
				}
				for name, got := range map[string]uint64{symAllgs: v.allgs, symAllglen: v.allglen, symWaitReasons: v.waitReasonStrings} {
					if got != want[name].Value || got == 0 {
						t.Errorf("%s found at %#x, the symbol says %#x", name, got, want[name].Value)
					}
				}
				if n := int(want[symWaitReasons].Size / 16); v.waitReasonCount != n {
					t.Errorf("waitReason.String checks against %d reasons, the symbol holds %d", v.waitReasonCount, n)
				}
			})
		}
	}
}

// TestFindRuntimeVarsARM64 cross-builds the fixture for arm64 and finds the runtime's
// variables in the machine code of (1) a copy of the build whose symbol table and DWARF
// are hidden, as strip would (GNU objcopy on an amd64 machine does not read arm64 ELF),
// which must give the addresses of the build's own symbols, and (2) the build made with
// -ldflags='-s -w', which records its ldflags in its build info and so has its data
// shifted by a few bytes: the three variables must be found shifted by the same small
// amount. Open must accept the -s -w build.
func TestFindRuntimeVarsARM64(t *testing.T) {
	for _, tc := range []string{"go1.20.14", "local", "go1.27.3"} {
		t.Run(tc, func(t *testing.T) {
			if testing.Short() && tc != "local" {
				t.Skip("-short: the other releases' arm64 builds are checked in full runs")
			}
			arm64 := []string{"GOARCH=arm64", "CGO_ENABLED=0"}
			fullPath := buildFixtureEnv(t, tc, arm64)
			want := symbolValues(t, fullPath)

			hidden := openELF(t, hideSymbols(t, fullPath))
			if _, err := hidden.Symbols(); err == nil || hidden.Section(".debug_info") != nil {
				t.Fatalf("the copy still has a symbol table or DWARF")
			}
			v, err := findRuntimeVars(scanner(t, hidden))
			if err != nil {
				t.Fatalf("findRuntimeVars: %v", err)
			}
			for name, got := range map[string]uint64{symAllgs: v.allgs, symAllglen: v.allglen, symWaitReasons: v.waitReasonStrings} {
				if got != want[name].Value || got == 0 {
					t.Errorf("%s found at %#x without symbols, the symbol says %#x", name, got, want[name].Value)
				}
			}
			if n := int(want[symWaitReasons].Size / 16); v.waitReasonCount != n {
				t.Errorf("waitReason.String checks against %d reasons, the symbol holds %d", v.waitReasonCount, n)
			}

			strippedPath := buildFixtureEnv(t, tc, arm64, "-ldflags=-s -w")
			sv, err := findRuntimeVars(scanner(t, openELF(t, strippedPath)))
			if err != nil {
				t.Fatalf("findRuntimeVars(-s -w build): %v", err)
			}
			shift := sv.allgs - v.allgs
			if sv.allglen-v.allglen != shift || sv.waitReasonStrings-v.waitReasonStrings != shift || shift > 4096 && -shift > 4096 || sv.waitReasonCount != v.waitReasonCount {
				t.Errorf("the -s -w build: allgs %#x, allglen %#x, waitReasonStrings %#x [%d]; unstripped %#x, %#x, %#x [%d]: not one small shift",
					sv.allgs, sv.allglen, sv.waitReasonStrings, sv.waitReasonCount, v.allgs, v.allglen, v.waitReasonStrings, v.waitReasonCount)
			}
			r, err := Open(strippedPath)
			if err != nil {
				t.Fatalf("Open(-s -w arm64 build): %v", err)
			}
			if want := "runtime variables found in machine code"; !strings.Contains(r.Source(), want) {
				t.Errorf("Source() = %q, want it to say %q", r.Source(), want)
			}
			t.Logf("%s arm64: allgs %#x, allglen %#x, waitReasonStrings %#x [%d]; -s -w build shifted by %d bytes", r.GoVersion(), v.allgs, v.allglen, v.waitReasonStrings, v.waitReasonCount, int64(shift))
		})
	}
}

func scanner(t *testing.T, f *elf.File) *codeScanner {
	t.Helper()
	c, err := newCodeScanner(f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openELF(t *testing.T, path string) *elf.File {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// symbolValues is the symbol table of an executable by name.
func symbolValues(t *testing.T, path string) map[string]elf.Symbol {
	t.Helper()
	syms, err := openELF(t, path).Symbols()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]elf.Symbol{}
	for _, s := range syms {
		out[s.Name] = s
	}
	return out
}

// hideSymbols copies a 64-bit little-endian ELF file with its symbol table and DWARF
// sections made invisible (type SHT_NULL, name changed), every byte of the loaded image
// left in place: what strip does, for architectures the machine's strip cannot read.
func hideSymbols(t *testing.T, path string) string {
	t.Helper()
	f := openELF(t, path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	shoff := binary.LittleEndian.Uint64(data[0x28:])
	shentsize := uint64(binary.LittleEndian.Uint16(data[0x3a:]))
	shstr := f.Sections[binary.LittleEndian.Uint16(data[0x3e:])]
	for i, s := range f.Sections {
		if s.Type != elf.SHT_SYMTAB && !strings.HasPrefix(s.Name, ".debug_") && !strings.HasPrefix(s.Name, ".zdebug_") {
			continue
		}
		hdr := shoff + uint64(i)*shentsize
		nameOff := binary.LittleEndian.Uint32(data[hdr:])
		binary.LittleEndian.PutUint32(data[hdr+4:], uint32(elf.SHT_NULL))
		data[shstr.Offset+uint64(nameOff)+1] = 'X' // .debug_info → .Xebug_info
	}
	out := filepath.Join(t.TempDir(), filepath.Base(path)+"-hidden")
	if err := os.WriteFile(out, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// allgaddSeed is runtime.allgadd's references to allgs and allglen as Go 1.26 compiles
// them (see scan_amd64.go), at pc 0x1000, with allgs at 0x5000 and allglen at 0x6000.
func allgaddSeed() []byte {
	var code []byte
	pc := uint64(0x1000)
	rip := func(op []byte, target uint64) {
		next := pc + uint64(len(op)) + 4
		d := uint32(target - next)
		code = append(code, op...)
		code = append(code, byte(d), byte(d>>8), byte(d>>16), byte(d>>24))
		pc = next
	}
	rip([]byte{0x48, 0x8b, 0x0d}, 0x5010) // MOVQ allgs+16(SB), CX
	rip([]byte{0x48, 0x8b, 0x1d}, 0x5008) // MOVQ allgs+8(SB), BX
	rip([]byte{0x48, 0x8b, 0x05}, 0x5000) // MOVQ allgs(SB), AX
	rip([]byte{0x48, 0x8b, 0x0d}, 0x5008) // MOVQ allgs+8(SB), CX
	rip([]byte{0x48, 0x8d, 0x15}, 0x6000) // LEAQ allglen(SB), DX
	code = append(code, 0x48, 0x87, 0x0a) // XCHGQ CX, 0(DX)
	return append(code, 0xc3)             // RET
}

func TestScanAllgaddSeed(t *testing.T) {
	s := scanX86(0x1000, allgaddSeed(), seedWritable)
	allgs, allglen, err := allgsFromAllgadd(&s.codeRefs)
	if err != nil || allgs != 0x5000 || allglen != 0x6000 {
		t.Errorf("allgsFromAllgadd = %#x, %#x, %v; want 0x5000, 0x6000", allgs, allglen, err)
	}
}

// FuzzScanX86 feeds garbage machine code to the scanners: they must not panic, and what
// they return must be in the writable range they were given.
func FuzzScanX86(f *testing.F) {
	f.Add(allgaddSeed())
	f.Add([]byte{})
	f.Add([]byte{0x3c, 0x2f, 0x48, 0x8d, 0x15, 0, 0x40, 0, 0}) // CMPL AL, $0x2f; LEAQ x(SB), DX
	f.Add([]byte{0x48, 0x87, 0x0a, 0x48, 0x87, 0x0a, 0xff})
	f.Fuzz(func(t *testing.T, code []byte) {
		checkScan(t, &scanX86(0x1000, code, seedWritable).codeRefs)
	})
}

// seedWritable is the writable range of the seeds and the fuzzers.
func seedWritable(a uint64) bool { return a >= 0x5000 && a < 0x7000 }

// checkScan requires what the analyses make of a scan to be in the writable range.
func checkScan(t *testing.T, refs *codeRefs) {
	if allgs, allglen, err := allgsFromAllgadd(refs); err == nil && (!seedWritable(allgs) || !seedWritable(allglen)) {
		t.Fatalf("allgs %#x, allglen %#x outside the writable range", allgs, allglen)
	}
	if addr, n, err := waitReasonsFromString(refs); err == nil && (!seedWritable(addr) || n < 0 || n > maxWaitReasons) {
		t.Fatalf("waitReasonStrings %#x [%d]", addr, n)
	}
}

// allgaddARM64Seed is runtime.allgadd's references as Go 1.27 compiles them for arm64
// (see scan_aarch64.go), at pc 0x1000, with allgs at 0x5000 and allglen at 0x6000.
func allgaddARM64Seed() []byte {
	// adrp encodes ADRP target, Rd at pc.
	adrp := func(pc, target uint64, rd uint32) uint32 {
		imm := uint32((target - pc&^0xfff) >> 12)
		return 0x90000000 | (imm&3)<<29 | (imm>>2&0x7ffff)<<5 | rd
	}
	words := []uint32{
		adrp(0x1000, 0x5000, 27), // ADRP allgs, R27
		0x9100037b,               // ADD $0, R27, R27
		0xa9400760,               // LDP (R27), (R0, R1)
		0xf9400b62,               // MOVD 16(R27), R2
		0xf9400761,               // MOVD 8(R27), R1
		adrp(0x1014, 0x6000, 2),  // ADRP allglen, R2
		0x91000042,               // ADD $0, R2, R2
		0xc89ffc41,               // STLR R1, (R2)
		0xd65f03c0,               // RET
	}
	code := make([]byte, 4*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint32(code[4*i:], w)
	}
	return code
}

func TestScanARM64Seed(t *testing.T) {
	s := scanARM64(0x1000, allgaddARM64Seed(), seedWritable)
	allgs, allglen, err := allgsFromAllgadd(&s.codeRefs)
	if err != nil || allgs != 0x5000 || allglen != 0x6000 {
		t.Errorf("allgsFromAllgadd = %#x, %#x, %v; want 0x5000, 0x6000", allgs, allglen, err)
	}
}

// FuzzScanARM64 is FuzzScanX86 for the arm64 scanner.
func FuzzScanARM64(f *testing.F) {
	f.Add(allgaddARM64Seed())
	f.Add([]byte{})
	f.Add([]byte{0x5f, 0xbc, 0x00, 0x71, 0x43, 0x2b, 0x00, 0xb0, 0x63, 0x80, 0x09, 0x91}) // CMPW $47, R2; ADRP; ADD
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, code []byte) {
		checkScan(t, &scanARM64(0x1000, code, seedWritable).codeRefs)
	})
}

// FuzzDecodeBuiltin decodes garbage with every built-in layout.
func FuzzDecodeBuiltin(f *testing.F) {
	f.Add([]byte{}, uint8(0))
	f.Add(make([]byte, 512), uint8(7))
	f.Fuzz(func(t *testing.T, raw []byte, which uint8) {
		v := generatedLayouts[int(which)%len(generatedLayouts)]
		r := &Runtime{l: &v.l, waitReasons: []string{"", "chan receive"}}
		if g := r.Decode(0x1000, raw); g.Status == "" || g.StatusCode&v.l.gscan != 0 {
			t.Fatalf("status %q, code %#x", g.Status, g.StatusCode)
		}
	})
}
