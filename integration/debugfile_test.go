package integration

// Separate debug files: a fixture stripped by objcopy, with its DWARF and symbols in a
// debug file (objcopy --only-keep-debug), must give the unstripped build's snapshot when
// gorigin is given the debug file (--debug-file) or finds it (next to the binary); a debug
// file of another build is refused with exit status 2.

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// splitDebug makes a stripped copy of bin (objcopy --strip-all: no symbols, no DWARF,
// every loaded byte in place) and its debug file (objcopy --only-keep-debug), in a new
// directory, as Linux distributions ship programs.
func splitDebug(t *testing.T, bin string) (stripped, debug string) {
	t.Helper()
	if _, err := exec.LookPath("objcopy"); err != nil {
		t.Skip("objcopy (binutils) is not installed: .ci/run installs it")
	}
	dir := t.TempDir()
	stripped, debug = filepath.Join(dir, filepath.Base(bin)+"-objcopy-stripped"), filepath.Join(dir, "symbols", "app.dbg")
	if err := os.MkdirAll(filepath.Dir(debug), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--only-keep-debug", bin, debug}, {"--strip-all", bin, stripped}} {
		if out, err := exec.Command("objcopy", args...).CombinedOutput(); err != nil {
			t.Fatalf("objcopy %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	checkStripped(t, stripped)
	return stripped, debug
}

// TestDebugFileCore makes the unstripped fixture dump core (the kernel, GOTRACEBACK=crash)
// and reads that one core three ways: with the unstripped executable, with the stripped
// copy and its debug file, and with the stripped copy alone (built-in layouts). All three
// must be the same snapshot, field by field, and agree with the runtime's debug=2 dump.
func TestDebugFileCore(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	v := hostVariant(t)
	bin := fixtureBinary(t, v)
	stripped, debug := splitDebug(t, bin)
	e := expect(t, v, extraGoroutines)
	k := startCrashingFixture(t, bin)
	before := k.f.debug2(t)
	path := k.crash(t)

	full := coreJSON(t, path, k.f.Pid, "--stacks")
	runs := map[string][]string{
		"stripped + --debug-file": {"--stacks", "--exe", stripped, "--debug-file", debug},
		"stripped alone":          {"--stacks", "--exe", stripped},
	}
	wantFrames := 0
	for _, g := range full.Goroutines {
		if len(g.Frames) > 0 {
			wantFrames++
		}
	}
	if wantFrames < 50 {
		t.Fatalf("only %d goroutines have stacks in the unstripped core's snapshot", wantFrames)
	}
	for name, flags := range runs {
		got := coreJSON(t, path, k.f.Pid, flags...)
		if got.Source.Exe != stripped {
			t.Errorf("%s: source.exe %q, want %q", name, got.Source.Exe, stripped)
		}
		got.Source.Exe, got.Source.TakenAt = full.Source.Exe, full.Source.TakenAt // a core has no clock: takenAt is when gorigin read it
		if a, b := snapshotJSON(t, full), snapshotJSON(t, got); !bytes.Equal(a, b) {
			t.Errorf("%s: the snapshot differs from the unstripped executable's:\n%s", name, firstDiff(a, b))
		}
	}
	compareWithOracle(t, e, full, before, before, compareOptions{})
}

// snapshotJSON is a snapshot as indented JSON, to compare and show differences.
func snapshotJSON(t *testing.T, s *snapshot.Snapshot) []byte {
	t.Helper()
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// firstDiff shows the first differing line of two texts, with some context.
func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < min(len(al), len(bl)); i++ {
		if al[i] != bl[i] {
			lo := max(0, i-3)
			return "unstripped:\n" + strings.Join(al[lo:min(len(al), i+3)], "\n") + "\nstripped:\n" + strings.Join(bl[lo:min(len(bl), i+3)], "\n")
		}
	}
	return "one is a prefix of the other"
}

// TestDebugFileAttach attaches to stripped copies of the fixture: with --debug-file, with
// the debug file found next to the executable, with one claiming a Go release newer than
// the built-in layouts (only the debug file's DWARF can read it), and with another
// build's debug file (refused, exit status 2). The process must run on every time.
func TestDebugFileAttach(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	v := hostVariant(t)
	bin := fixtureBinary(t, v)
	newer := "go1.99" + v.Toolchain[len("go1.NN"):] // as long as the real version
	tooNew, tooNewDebug := splitDebug(t, withGoVersion(t, bin, newer))
	stripped, debug := splitDebug(t, bin)
	e := expect(t, v, extraGoroutines)

	attach := func(t *testing.T, exe string, wantSource string, flags ...string) {
		f := startFixture(t, exe, "-n", strconv.Itoa(extraGoroutines))
		before := f.debug2(t)
		snap, run := attachJSON(t, f.Pid, []string{"GORIGIN_TRACE=1"}, flags...)
		testenv.CheckRunsFreely(t, f.Pid, 100*time.Millisecond)
		after := f.debug2(t)
		f.checkAnswers(t)
		if !bytes.Contains(run.Stderr, []byte("read the executable: "+wantSource)) {
			t.Errorf("GORIGIN_TRACE does not say the layout came from %q:\n%s", wantSource, run.Stderr)
		}
		compareWithOracle(t, e, snap, before, after, compareOptions{})
	}
	t.Run("--debug-file", func(t *testing.T) {
		attach(t, stripped, "DWARF, symbols from "+debug, "--debug-file", debug)
	})
	t.Run("found next to it", func(t *testing.T) {
		next := stripped + ".debug"
		if err := os.Link(debug, next); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(next)
		attach(t, stripped, "DWARF, symbols from "+next)
	})
	t.Run("newer Go than the built-in layouts", func(t *testing.T) {
		f := startFixture(t, tooNew)
		r := runGorigin(t, nil, "attach", strconv.Itoa(f.Pid))
		want := "this binary is " + newer + ": build it with DWARF"
		if r.Code != 2 || !bytes.Contains(r.Stderr, []byte(want)) {
			t.Errorf("without the debug file: %v\nwant exit status 2 and %q", r, want)
		}
		testenv.CheckRunsFreely(t, f.Pid, 100*time.Millisecond)
		attach(t, tooNew, "DWARF, symbols from "+tooNewDebug, "--debug-file", tooNewDebug)
	})
	t.Run("another build's debug file", func(t *testing.T) {
		_, otherDebug := splitDebug(t, fixtureBinary(t, variant{Toolchain: "go1.27.3"}))
		f := startFixture(t, stripped)
		r := runGorigin(t, nil, "attach", strconv.Itoa(f.Pid), "--debug-file", otherDebug)
		want := "is not from the build of /proc/" + strconv.Itoa(f.Pid) + "/exe: its "
		if r.Code != 2 || !bytes.Contains(r.Stderr, []byte(want)) || !bytes.Contains(r.Stderr, []byte("build ID is")) {
			t.Errorf("%v\nwant exit status 2 and %q ... build ID is", r, want)
		}
		testenv.CheckRunsFreely(t, f.Pid, 100*time.Millisecond)
	})
}
