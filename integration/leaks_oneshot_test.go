package integration

// gorigin leaks in one freeze: the verdicts of a target whose goroutines block and wake
// all the time, checked against the states of the same snapshot; and the memory guard,
// which marks while frozen when the copy of the heap does not fit in gorigin's memory.

import (
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestLeaksChurnNeverCallsRunnableLeaked runs gorigin leaks on the fixture with 8 pairs
// of goroutines that block and wake without pause (and a spawner of short-lived ones):
// no goroutine that is runnable, running or in a system call in the snapshot (whose
// states come from the same freeze as the verdicts) may be leaked, and no goroutine of a
// NOLEAK statement — the churning ones among them — ever is (checkLeaks: the source's
// markers). It repeats until it has seen runnable or running goroutines in some
// snapshots, so that the first check is not vacuous.
func TestLeaksChurnNeverCallsRunnableLeaked(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	dir := leakFixtureDir(t)
	markers := leakMarkers(t, dir)
	v := hostVariant(t)
	prebuild(dir, []variant{v})
	bin := programBinary(t, dir, v)
	f := startFixture(t, bin, "-churn", "8")
	canRun := map[string]bool{"runnable": true, "running": true, "syscall": true}
	seen, runs := 0, 0
	for runs < 40 && (runs < 5 || seen < 20) {
		runs++
		snap, _ := leaksJSON(t, strconv.Itoa(f.Pid))
		for _, g := range snap.Goroutines {
			if !canRun[string(g.Status)] {
				continue
			}
			seen++
			if g.Leak == "leaked" {
				t.Errorf("run %d: goroutine %d is %s in the snapshot and called leaked (%s)", runs, g.ID, g.Status, describe(g))
			}
		}
		checkLeaks(t, snap, markers, dir)
		if t.Failed() {
			break
		}
	}
	testenv.CheckRunsFreely(t, f.Pid, time.Second)
	if seen == 0 {
		t.Fatalf("%d snapshots showed no runnable, running or syscall goroutine: the check above was vacuous", runs)
	}
	t.Logf("%d runs, %d runnable/running/syscall goroutines seen, none leaked", runs, seen)
}

// guardASLimit is the address-space limit (prlimit --as) under which the memory guard
// must choose marking while frozen for a 400 MB heap: gorigin itself (a cgo binary with
// its threads' stacks and its heap's reservations) maps about 1.7 GB of address space,
// which leaves less than the copy of the heap needs (about 1 GB with the guard's margin)
// but enough to mark while frozen.
const guardASLimit = 2400 << 20

// TestLeaksMemoryGuardMarksWhileFrozen runs gorigin leaks under prlimit --as on the
// fixture with a 400 MB pointer-holding heap: the copy does not fit, so gorigin must say
// it marked while the target was frozen and why, and its verdicts must still be the
// fixture's (checkLeaks).
func TestLeaksMemoryGuardMarksWhileFrozen(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds a 400 MB heap")
	}
	bin0 := needGorigin(t)
	testenv.NeedPtrace(t)
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	dir := leakFixtureDir(t)
	markers := leakMarkers(t, dir)
	v := hostVariant(t)
	prebuild(dir, []variant{v})
	bin := programBinary(t, dir, v)
	f := startFixture(t, bin, "-ballast", "400")
	cmd := exec.Command(prlimit, fmt.Sprintf("--as=%d", guardASLimit), bin0, "leaks", strconv.Itoa(f.Pid), "--format", "json")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("prlimit --as=%d gorigin leaks: %v\n%.2000s", guardASLimit, err, errb.Bytes())
	}
	testenv.CheckRunsFreely(t, f.Pid, time.Second)
	snap, err := snapshot.Decode(&out)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	found := false
	for _, w := range snap.Warnings {
		if strings.Contains(w, "marked while the target was frozen instead") && strings.Contains(w, "RLIMIT_AS") {
			found = true
			t.Logf("warning: %s", w)
		}
	}
	if !found {
		t.Errorf("no warning that the copy did not fit under RLIMIT_AS and the marking ran frozen; warnings: %q", snap.Warnings)
	}
	checkLeaks(t, snap, markers, dir)
}
