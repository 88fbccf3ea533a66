package gstruct

import (
	"errors"
	"strings"
	"testing"
)

// TestFindHeapVars finds the heap variables package leaks reads from machine code and
// runtime.firstmoduledata, in builds that still have their symbol table, and checks
// them against the symbols (the search never looks at them): every release, amd64 (an
// executable and a PIE) and arm64 (the copy with its symbols hidden).
func TestFindHeapVars(t *testing.T) {
	type build struct {
		name string
		path func(t *testing.T) (exe, symbols string)
	}
	var builds []build
	for _, tc := range toolchains {
		for _, mode := range []string{"exe", "pie"} {
			builds = append(builds, build{tc + "-" + mode, func(t *testing.T) (string, string) {
				p := buildFixture(t, tc, "-buildmode="+mode)
				return p, p
			}})
		}
		builds = append(builds, build{tc + "-arm64", func(t *testing.T) (string, string) {
			p := buildFixtureEnv(t, tc, []string{"GOARCH=arm64", "CGO_ENABLED=0"})
			return hideSymbols(t, p), p
		}})
	}
	for _, b := range builds {
		t.Run(b.name, func(t *testing.T) {
			exe, symPath := b.path(t)
			want := symbolValues(t, symPath)
			v, err := findHeapVars(scanner(t, openELF(t, exe)))
			if err != nil {
				t.Fatalf("findHeapVars: %v", err)
			}
			for name, got := range map[string]uint64{
				"runtime.mheap_": v.Mheap, "runtime.allm": v.Allm, "runtime.allp": v.Allp,
				"runtime.semtable": v.Semtable, "runtime.allfin": v.Allfin, "runtime.gcCleanups": v.GcCleanups,
				"runtime.data": v.Data, "runtime.edata": v.Edata, "runtime.bss": v.Bss, "runtime.ebss": v.Ebss,
				"runtime.gcdata": v.Gcdata, "runtime.gcbss": v.Gcbss, "runtime.types": v.Types, "runtime.etypes": v.Etypes,
			} {
				s, ok := want[name]
				if !ok && got == 0 && name == "runtime.gcCleanups" {
					continue // before Go 1.25
				}
				if !ok || got != s.Value {
					t.Errorf("%s found at %#x, the symbol says %#x (present: %v)", name, got, s.Value, ok)
				}
			}
			for _, p := range []struct {
				name string
				size uint64
			}{{"runtime.gcdata", v.GcdataSize}, {"runtime.gcbss", v.GcbssSize}} {
				if s := want[p.name]; p.size < s.Size {
					t.Errorf("%s: %d bytes to read, the symbol has %d", p.name, p.size, s.Size)
				}
			}
		})
	}
}

// TestHeapStripped: Open of a -s -w build finds the heap variables (the same Heap as the
// unstripped build's, shifted by the few bytes its build info adds), and when the
// machine code does not say where they are, Heap fails naming the remedies.
func TestHeapStripped(t *testing.T) {
	full, err := Open(buildFixture(t, toolchains[len(toolchains)-1]))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(buildFixture(t, toolchains[len(toolchains)-1], "-ldflags=-s -w"))
	if err != nil {
		t.Fatal(err)
	}
	hf, err := full.Heap()
	if err != nil {
		t.Fatal(err)
	}
	h, err := r.Heap()
	if err != nil {
		t.Fatalf("Heap of the -s -w build: %v", err)
	}
	if d := h.Mheap - hf.Mheap; d > 4096 && -d > 4096 || h.Allm-hf.Allm != d || h.Allp-hf.Allp != d || h.SemtableSize != hf.SemtableSize {
		t.Errorf("the -s -w build's heap variables (mheap_ %#x, allm %#x, allp %#x) are not the unstripped build's (%#x, %#x, %#x) shifted alike",
			h.Mheap, h.Allm, h.Allp, hf.Mheap, hf.Allm, hf.Allp)
	}
	r.vars, r.varsErr = heapVars{}, errors.New("no call to runtime.(*mheap).init")
	_, err = r.Heap()
	if !errors.Is(err, ErrNoHeapLayout) || !strings.Contains(err.Error(), "--debug-file") || !strings.Contains(err.Error(), "no call to runtime.(*mheap).init") {
		t.Errorf("Heap without the variables: %v; want ErrNoHeapLayout, the cause and --debug-file", err)
	}
}
