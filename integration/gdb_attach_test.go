package integration

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// needGDB skips a test when gdb is missing (.ci/run installs it).
func needGDB(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("gdb")
	if err != nil {
		t.Skip("gdb is not installed: apt-get install gdb (.ci/run installs it)")
	}
	return p
}

// TestAttachGDBBackend attaches to the fixture with --backend gdb and checks the snapshot
// against the runtime's own dump, and against the native backend's snapshot of the same
// process: the same goroutines with the same ids, states, origins, start functions and labels.
func TestAttachGDBBackend(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	needGDB(t)
	vs := []variant{hostVariant(t), {Toolchain: "go1.20.14"}, {Toolchain: "go1.27.3"}}
	prebuild(fixtureDir(t), vs)
	for _, v := range vs {
		t.Run(v.String(), func(t *testing.T) {
			bin := fixtureBinary(t, v)
			e := expect(t, v, extraGoroutines)
			f := startFixture(t, bin, "-n", strconv.Itoa(extraGoroutines))
			before := f.debug2(t)
			gdbSnap, run := attachJSON(t, f.Pid, nil, "--backend", "gdb")
			testenv.CheckRunsFreely(t, f.Pid, 100*time.Millisecond)
			checkNoGDBLeft(t, f.Pid)
			nativeSnap, nrun := attachJSON(t, f.Pid, nil)
			after := f.debug2(t)
			f.checkAnswers(t)

			checkSource(t, v, gdbSnap, "always")
			if gdbSnap.Source.Backend != "gdb" {
				t.Errorf("source.backend %q, want gdb", gdbSnap.Source.Backend)
			}
			compareWithOracle(t, e, gdbSnap, before, after, compareOptions{})
			compareSnapshots(t, e, gdbSnap, nativeSnap)
			t.Logf("gdb backend: %v wall, frozen %d µs; native: %v wall, frozen %d µs; %d goroutines",
				run.Elapsed.Round(time.Millisecond), gdbSnap.Source.FreezeMicros,
				nrun.Elapsed.Round(time.Millisecond), nativeSnap.Source.FreezeMicros, len(gdbSnap.Goroutines))
		})
	}
}

// compareSnapshots checks that two snapshots of the fixture taken one after the other
// agree on every fixture goroutine; only the state of the busy ones may differ.
func compareSnapshots(t *testing.T, e *expectation, a, b *snapshot.Snapshot) {
	t.Helper()
	ga, gb := e.selected(goriginGroups(a)), e.selected(goriginGroups(b))
	for _, o := range unionOrigins(ga, gb) {
		ma, mb := slices.Clone(ga[o]), slices.Clone(gb[o])
		byID := func(x, y member) int { return int(x.ID - y.ID) }
		slices.SortFunc(ma, byID)
		slices.SortFunc(mb, byID)
		if len(ma) != len(mb) {
			t.Errorf("%s (%s): gdb backend %d goroutines, native %d", e.name(o), o, len(ma), len(mb))
			continue
		}
		for i := range ma {
			x, y := ma[i], mb[i]
			if e.name(o) == "busy" {
				x.State, y.State = "", ""
			}
			if fmt.Sprint(x) != fmt.Sprint(y) {
				t.Errorf("%s (%s): gdb backend %+v, native %+v", e.name(o), o, x, y)
			}
		}
	}
	if len(ga) == 0 {
		t.Errorf("no fixture goroutines in the gdb backend's snapshot")
	}
}

// checkNoGDBLeft fails if a gdb still traces pid or is still running as gorigin's child.
func checkNoGDBLeft(t *testing.T, pid int) {
	t.Helper()
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(st), "\nTracerPid:\t0\n") {
		t.Errorf("pid %d is still traced after gorigin exited:\n%s", pid, st)
	}
}

// TestGDBBackendKilledMidFreeze kills gorigin while GDB holds the target stopped: GDB dies
// with it (PR_SET_PDEATHSIG) and the kernel lets the target go.
func TestGDBBackendKilledMidFreeze(t *testing.T) {
	gor := needGorigin(t)
	testenv.NeedPtrace(t)
	needGDB(t)
	v := hostVariant(t)
	f := startFixture(t, fixtureBinary(t, v), "-n", "3")
	cmd := exec.Command(gor, "attach", strconv.Itoa(f.Pid), "--backend", "gdb", "--max-freeze", "30s")
	cmd.Env = append(os.Environ(), "GORIGIN_TEST_HOLD_FREEZE=20s")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	n, err := testenv.WaitAllTraceStopped(f.Pid, 30*time.Second)
	if err != nil {
		t.Fatalf("the gdb backend did not freeze the fixture: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	testenv.CheckRunsFreely(t, f.Pid, 2*time.Second)
	f.checkAnswers(t)
	t.Logf("killed gorigin with %d threads stopped by gdb; the target runs on", n)
}
