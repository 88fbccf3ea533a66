package gstruct

import (
	"debug/elf"
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
				v, err := findRuntimeVars(f)
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
	s := scanX86(0x1000, allgaddSeed(), func(a uint64) bool { return a >= 0x5000 && a < 0x7000 })
	allgs, allglen, err := allgsFromAllgadd(s)
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
	writable := func(a uint64) bool { return a >= 0x5000 && a < 0x7000 }
	f.Fuzz(func(t *testing.T, code []byte) {
		s := scanX86(0x1000, code, writable)
		if allgs, allglen, err := allgsFromAllgadd(s); err == nil && (!writable(allgs) || !writable(allglen)) {
			t.Fatalf("allgs %#x, allglen %#x outside the writable range", allgs, allglen)
		}
		if addr, n, err := waitReasonsFromString(s); err == nil && (!writable(addr) || n < 0 || n > maxWaitReasons) {
			t.Fatalf("waitReasonStrings %#x [%d]", addr, n)
		}
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
