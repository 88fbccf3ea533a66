package integration

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// extraGoroutines is the fixture's -n in the matrix runs, so that its "extra" go
// statement has goroutines too.
const extraGoroutines = 11

// TestAttach attaches to the fixture built every way the matrix says and compares
// gorigin's goroutines with the runtime's own dump, go statement by go statement.
func TestAttach(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	vs := matrixVariants(t)
	prebuild(fixtureDir(t), vs)
	for _, v := range vs {
		t.Run(v.String(), func(t *testing.T) {
			b := builtProgram(t, fixtureDir(t), v)
			reportInlining(t, b.Log)
			testAttach(t, v, b.Path, extraGoroutines)
		})
	}
}

// TestAttachManyGoroutines is the same comparison with ten thousand goroutines more.
func TestAttachManyGoroutines(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 10000-goroutine attach")
	}
	needGorigin(t)
	testenv.NeedPtrace(t)
	v := hostVariant(t)
	testAttach(t, v, fixtureBinary(t, v), 10000)
}

func testAttach(t *testing.T, v variant, bin string, extra int) {
	e := expect(t, v, extra)
	f := startFixture(t, bin, "-n", strconv.Itoa(extra))
	before := f.debug2(t)
	snap, run := attachJSON(t, f.Pid, nil)
	testenv.CheckRunsFreely(t, f.Pid, 100*time.Millisecond)
	after := f.debug2(t)
	f.checkAnswers(t)

	checkSource(t, v, snap, "always")
	compareWithOracle(t, e, snap, before, after, compareOptions{})
	t.Logf("gorigin: %v wall, target frozen %d µs, %d goroutines", run.Elapsed.Round(time.Millisecond), snap.Source.FreezeMicros, len(snap.Goroutines))
}

// checkSource checks what the snapshot says about where it came from.
func checkSource(t *testing.T, v variant, snap *snapshot.Snapshot, freeze string) {
	t.Helper()
	src := snap.Source
	if src.GoVersion != v.Toolchain {
		t.Errorf("source.goVersion %q, want %q", src.GoVersion, v.Toolchain)
	}
	if src.Exe == "" {
		t.Errorf("source.exe is empty")
	}
	if string(src.Freeze) != freeze {
		t.Errorf("source.freeze %q, want %q", src.Freeze, freeze)
	}
	if freeze == "always" && src.FreezeMicros <= 0 {
		t.Errorf("source.freezeMicros %d for a frozen read, want the time the target was stopped", src.FreezeMicros)
	}
	if freeze == "never" && src.FreezeMicros != 0 {
		t.Errorf("source.freezeMicros %d for --freeze=never, want 0", src.FreezeMicros)
	}
	if src.Partial {
		t.Errorf("snapshot is partial: %v", snap.Warnings)
	}
	if age := time.Since(src.TakenAt); age < 0 || age > 5*time.Minute {
		t.Errorf("source.takenAt %v is %v from now", src.TakenAt, age)
	}
}

// reportInlining says whether the compiler inlined the fixture's go-statement helper,
// from the build's -m output, and fails if the output does not say.
func reportInlining(t *testing.T, log []byte) {
	t.Helper()
	switch {
	case bytes.Contains(log, []byte("can inline spawnInline")) && !bytes.Contains(log, []byte("cannot inline spawnInline")):
		t.Logf("the compiler inlines spawnInline: the inline-helper go statement sits in an inlined frame")
	case bytes.Contains(log, []byte("cannot inline spawnInline")):
		// Every release up to Go 1.27: "unhandled op GO".
	default:
		t.Errorf("the build's -gcflags=-m output says nothing about spawnInline:\n%s", log)
	}
}
