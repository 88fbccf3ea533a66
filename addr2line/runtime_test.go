package addr2line

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// runtimeFrame is one line of the target's runtime.CallersFrames output.
type runtimeFrame struct {
	label     string
	pc, entry uint64
	inlined   bool
	fn, file  string
	line      int
}

// callersOutput runs the target in "callers" mode and returns the frames
// and the load bias (the run-time address of main.top minus its link-time
// address, taken from symtab, the unstripped build of the same code).
func callersOutput(t *testing.T, path string, symtab []elf.Symbol) ([]runtimeFrame, uint64) {
	t.Helper()
	var frames []runtimeFrame
	var anchor uint64
	sc := bufio.NewScanner(strings.NewReader(runProg(t, path, "callers")))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "anchor":
			anchor = mustHex(t, f[2])
		case len(f) == 8 && f[0] == "frame":
			line, err := strconv.Atoi(f[7])
			if err != nil {
				t.Fatalf("bad line in %q", sc.Text())
			}
			frames = append(frames, runtimeFrame{label: f[1], pc: mustHex(t, f[2]), entry: mustHex(t, f[3]), inlined: f[4] == "1", fn: f[5], file: f[6], line: line})
		default:
			t.Fatalf("unexpected output line %q", sc.Text())
		}
	}
	var top uint64
	for _, s := range symtab {
		if s.Name == "main.top" {
			top = s.Value
		}
	}
	if anchor == 0 || top == 0 || anchor < top {
		t.Fatalf("cannot compute the load bias: anchor %#x, main.top %#x", anchor, top)
	}
	return frames, anchor - top
}

// symbolSource returns the build whose symbol table describes the code of
// the given build: itself, or for a stripped one the unstripped build with
// the same code (TestStrippedSameCode checks that the code is the same).
func symbolSource(t *testing.T, toolchain, variant string) string {
	if variant == "stripped" {
		variant = "exe"
	}
	return buildProg(t, toolchain, variant)
}

func mustHex(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
	if err != nil {
		t.Fatalf("bad hex %q", s)
	}
	return v
}

// TestLookupMatchesCallersFrames compares Lookup with runtime.CallersFrames
// run inside the target: for every frame the runtime reports, Lookup at its
// PC must give that frame followed by the frames the runtime reports for
// the same physical call, down to the physical function.
func TestLookupMatchesCallersFrames(t *testing.T) {
	for _, tc := range toolchains {
		for _, variant := range []string{"exe", "stripped", "pie"} {
			t.Run(tc+"/"+variant, func(t *testing.T) {
				path := buildProg(t, tc, variant)
				symtab := funcSymbols(t, symbolSource(t, tc, variant))
				tab := openTable(t, path)
				rf, bias := callersOutput(t, path, symtab)
				if (variant == "pie") != (bias != 0) {
					t.Fatalf("load bias %#x for a %s executable", bias, variant)
				}
				inlined, labels := 0, map[string]bool{}
				for i, r := range rf {
					labels[r.label] = true
					var want []Frame
					for _, o := range rf[i:] {
						want = append(want, Frame{Func: o.fn, File: o.file, Line: o.line, Entry: o.entry - bias, Inlined: o.inlined})
						if !o.inlined {
							break
						}
					}
					if r.inlined {
						inlined++
					}
					got, ok := tab.Lookup(r.pc - bias)
					if !ok || !equalFrames(got, want) {
						t.Errorf("%s: Lookup(%#x) =\n%s\nruntime.CallersFrames says\n%s", r.label, r.pc-bias, fmtFrames(got), fmtFrames(want))
					}
				}
				if len(labels) != 5 || inlined < 5 {
					t.Fatalf("the target printed %d stacks with %d inlined frames, want 5 stacks and some inlined frames", len(labels), inlined)
				}
			})
		}
	}
}

func equalFrames(a, b []Frame) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func fmtFrames(fs []Frame) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\t%s %s:%d entry %#x inlined %v\n", f.Func, f.File, f.Line, f.Entry, f.Inlined)
	}
	return b.String()
}

var createdByRE = regexp.MustCompile(`(?m)^created by (\S+)(?: in goroutine \d+)?\n\t(\S+):(\d+) \+0x([0-9a-f]+)$`)

// TestLookupMatchesCreatedBy compares Lookup(gopc-1) with the runtime's
// own "created by" lines: the last frame must be the function the runtime
// names, the first frame's file:line the one it prints. gopc is the entry
// of that function (from the unstripped build's symbol table) plus the
// offset the runtime prints.
func TestLookupMatchesCreatedBy(t *testing.T) {
	origins := originMarkers(t)
	for _, tc := range toolchains {
		for _, variant := range []string{"exe", "stripped", "pie"} {
			t.Run(tc+"/"+variant, func(t *testing.T) {
				path := buildProg(t, tc, variant)
				symtab := funcSymbols(t, symbolSource(t, tc, variant))
				tab := openTable(t, path)
				out := runProg(t, path, "stacks")
				seen := map[string]bool{}
				for _, m := range createdByRE.FindAllStringSubmatch(out, -1) {
					name, file, off := m[1], m[2], mustHex(t, m[4])
					line, _ := strconv.Atoi(m[3])
					seen[fmt.Sprintf("%s:%d", file, line)] = true
					matched := 0
					for _, s := range symtab {
						if printName(s.Name) != name || off >= s.Size {
							continue
						}
						matched++
						gopc := s.Value + off
						got, ok := tab.Lookup(gopc - 1)
						if !ok || got[0].File != file || got[0].Line != line || got[len(got)-1].Func != name || got[len(got)-1].Entry != s.Value {
							t.Errorf("created by %s at %s:%d (gopc %#x): Lookup(gopc-1) =\n%s", name, file, line, gopc, fmtFrames(got))
						}
						if fn, entry, ok := tab.Func(gopc); !ok || fn != name || entry != s.Value {
							t.Errorf("Func(%#x) = %s, %#x, %v; want %s, %#x", gopc, fn, entry, ok, name, s.Value)
						}
					}
					if matched == 0 {
						t.Errorf("no symbol for %q with an offset %#x", name, off)
					}
				}
				for name, pos := range origins {
					if !seen[pos] {
						t.Errorf("the runtime printed no goroutine created at %s (%s):\n%s", pos, name, out)
					}
				}
			})
		}
	}
}

// originMarkers returns the file:line of each "// ORIGIN name" comment of
// the target's source.
func originMarkers(t *testing.T) map[string]string {
	t.Helper()
	src := filepath.Join("testdata", "prog", "main.go")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for i, l := range bytes.Split(data, []byte("\n")) {
		if _, name, ok := strings.Cut(string(l), "// ORIGIN "); ok {
			out[name] = fmt.Sprintf("%s:%d", abs, i+1)
		}
	}
	if len(out) < 3 {
		t.Fatalf("%s has %d ORIGIN markers, want at least 3", src, len(out))
	}
	return out
}
