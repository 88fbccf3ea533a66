package integration

// Leak analysis without the executable's own DWARF: gstruct owns the runtime's offsets,
// so gorigin leaks works on a stripped fixture given its debug file (objcopy
// --only-keep-debug), on one without DWARF but with its symbol table (objcopy
// --strip-debug, like -ldflags=-w) from the built-in layouts of its Go version, and on
// one without either (objcopy --strip-all, like -ldflags='-s -w'), its runtime's
// variables found in its machine code. The oracle is the fixture's LEAK/NOLEAK markers
// (checkLeaks), and the verdicts must be the unstripped build's, go statement by go
// statement.

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// leakCounts is how many of the fixture's goroutines each go statement line has, by
// verdict: "main.go:57 leaked" → 100.
func leakCounts(snap *snapshot.Snapshot, main string) map[string]int {
	out := map[string]int{}
	for _, g := range snap.Goroutines {
		if g.Origin != nil && g.Origin.File == main {
			out[fmt.Sprintf("main.go:%d %s", g.Origin.Line, g.Leak)]++
		}
	}
	return out
}

// waitLeaksBlocked waits until every goroutine of the fixture's LEAK statements is
// parked: the fixture's own pause before "ready" is not enough on a loaded machine.
func waitLeaksBlocked(t *testing.T, pid int, markers map[int]leakMarker, main string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		snap, _ := attachJSON(t, pid, nil)
		blocked, want := 0, 0
		for _, m := range markers {
			if m.leak {
				want += m.count
			}
		}
		for _, g := range snap.Goroutines {
			if g.Origin != nil && g.Origin.File == main && markers[g.Origin.Line].leak && g.Status == "waiting" {
				blocked++
			}
		}
		if blocked == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute %d of the %d goroutines of LEAK statements are parked", blocked, want)
		}
	}
}

// leaksSettled starts bin, waits until its LEAK goroutines are parked, and runs gorigin
// leaks on it; when that finds fewer leaks than the markers say, it tries a new process,
// three at most, and returns the last snapshot (checkLeaks judges it) and process.
// Conservative scanning can see a word that is not a pointer as one and call a leak live
// (never the reverse): seen on Go 1.20, p.pcache.base (a uintptr) holding the address of
// a page that starts with a leaked goroutine's sudog. The layout of a fresh process
// differs, so one such coincidence does not fail a test of something else.
func leaksSettled(t *testing.T, bin string, markers map[int]leakMarker, main string, flags ...string) (*snapshot.Snapshot, *fixture) {
	t.Helper()
	want := 0
	for _, m := range markers {
		if m.leak {
			want += m.count
		}
	}
	var snap *snapshot.Snapshot
	var f *fixture
	for try := 0; try < 3; try++ {
		f = startFixture(t, bin)
		waitLeaksBlocked(t, f.Pid, markers, main)
		snap, _ = leaksJSON(t, strconv.Itoa(f.Pid), flags...)
		n := 0
		for _, g := range snap.Goroutines {
			if g.Origin != nil && g.Origin.File == main && markers[g.Origin.Line].leak && g.Leak == "leaked" {
				n++
			}
		}
		if n == want {
			break
		}
		t.Logf("process %d: %d of %d goroutines of LEAK statements called leaked", try+1, n, want)
	}
	return snap, f
}

func TestLeaksDebugFileAndBuiltinLayouts(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	if _, err := exec.LookPath("objcopy"); err != nil {
		t.Skip("objcopy (binutils) is not installed: .ci/run installs it")
	}
	dir := leakFixtureDir(t)
	markers := leakMarkers(t, dir)
	main := filepath.Join(dir, "main.go")
	vs := leakVariants
	if testing.Short() {
		vs = []variant{hostVariant(t)}
	}
	prebuild(dir, vs)
	for _, v := range vs {
		t.Run(v.String(), func(t *testing.T) {
			bin := programBinary(t, dir, v)
			full, _ := leaksSettled(t, bin, markers, main)
			checkLeaks(t, full, markers, dir)
			want := leakCounts(full, main)

			stripped, debug := splitDebug(t, bin)
			noDWARF := filepath.Join(t.TempDir(), filepath.Base(bin)+"-nodwarf")
			if out, err := exec.Command("objcopy", "--strip-debug", bin, noDWARF).CombinedOutput(); err != nil {
				t.Fatalf("objcopy --strip-debug: %v\n%s", err, out)
			}
			runs := []struct {
				name, bin string
				flags     []string
			}{
				{"stripped + --debug-file", stripped, []string{"--debug-file", debug}},
				{"no DWARF, symbols (built-in layout)", noDWARF, nil},
				{"stripped, no debug file (built-in layout, variables from machine code)", stripped, nil},
			}
			for _, r := range runs {
				snap, f := leaksSettled(t, r.bin, markers, main, r.flags...)
				testenv.CheckRunsFreely(t, f.Pid, time.Second)
				checkLeaks(t, snap, markers, dir)
				got := leakCounts(snap, main)
				for k, n := range want {
					if strings.HasSuffix(k, " leaked") && got[k] != n {
						t.Errorf("%s: %s: %d goroutines, the unstripped build's analysis %d", r.name, k, got[k], n)
					}
				}
				for k, n := range got {
					if strings.HasSuffix(k, " leaked") && want[k] == 0 {
						t.Errorf("%s: %s: %d goroutines, the unstripped build's analysis none", r.name, k, n)
					}
				}
			}
		})
	}
}
