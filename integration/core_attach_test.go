package integration

// Core dumps: a core of the fixture written by GDB's gcore, by Delve's dump and by the
// kernel must give the snapshot gorigin attach gives of the same process state, and the
// runtime's own debug=2 dump's counts.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// coreVariants are the builds the core tests use: the oldest and newest toolchains and
// the local one, one of them position-independent (its load bias comes from the core).
var coreVariants = []variant{
	{Toolchain: "go1.20.14"},
	{Toolchain: "go1.26.8"},
	{Toolchain: "go1.27.3", PIE: true},
}

// TestCoreMatchesAttach takes a live snapshot of the fixture, then a core of the same
// process with gcore and with dlv dump, and requires gorigin core to say the same;
// then it makes the fixture dump core itself (GOTRACEBACK=crash, SIGQUIT) and compares
// that core with a live snapshot taken just before.
func TestCoreMatchesAttach(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	vs := coreVariants
	if testing.Short() {
		vs = []variant{hostVariant(t)}
	}
	prebuild(fixtureDir(t), vs)
	for _, v := range vs {
		t.Run(v.String(), func(t *testing.T) {
			bin := fixtureBinary(t, v)
			t.Run("gcore+dlv", func(t *testing.T) { testDebuggerCores(t, v, bin) })
			t.Run("kernel", func(t *testing.T) { testKernelCore(t, v, bin) })
		})
	}
}

func testDebuggerCores(t *testing.T, v variant, bin string) {
	e := expect(t, v, extraGoroutines)
	f := startFixture(t, bin, "-n", strconv.Itoa(extraGoroutines))
	before := f.debug2(t)
	live, _ := attachJSON(t, f.Pid, nil)
	dir := t.TempDir()

	// gcore writes every page the Go runtime reserved, a gigabyte, in 10 to 40 s: by
	// default only the local toolchain's fixture gets one, every variant with the full matrix.
	var fromGcore *snapshot.Snapshot
	if v == hostVariant(t) || *fullMatrix || os.Getenv("GORIGIN_FULL") == "1" {
		gc := gcore(t, f.Pid, dir)
		testenv.CheckRunsFreely(t, f.Pid, time.Second)
		fromGcore = coreJSON(t, gc, f.Pid)
		os.Remove(gc)
		compareCoreWithLive(t, e, "gcore", live, fromGcore)
	} else {
		t.Logf("gcore: only for %s by default (a gigabyte each); -gorigin.full or GORIGIN_FULL=1 for every variant", hostVariant(t))
	}

	var fromDlv *snapshot.Snapshot
	if dlv, err := exec.LookPath("dlv"); err != nil {
		t.Logf("dlv is not on PATH: the dlv dump core is not tested (.ci/run installs it)")
	} else {
		dc := dlvDump(t, dlv, f.Pid, dir)
		testenv.CheckRunsFreely(t, f.Pid, time.Second)
		// Delve's cores name no files, and the command line they record is /proc/PID/exe
		// for an attached process: --exe, as a user of a dlv dump must.
		fromDlv = coreJSON(t, dc, f.Pid, "--exe", bin)
		compareCoreWithLive(t, e, "dlv dump", live, fromDlv)
	}

	after := f.debug2(t)
	f.checkAnswers(t)
	if fromGcore != nil {
		compareWithOracle(t, e, fromGcore, before, after, compareOptions{})
	}
	if fromDlv == nil {
		t.Skip("gcore checked; dlv is not on PATH: install it (go install github.com/go-delve/delve/cmd/dlv@v1.27.2) to test dlv dump cores")
	}
	compareWithOracle(t, e, fromDlv, before, after, compareOptions{})
}

func testKernelCore(t *testing.T, v variant, bin string) {
	e := expect(t, v, extraGoroutines)
	k := startCrashingFixture(t, bin)
	before := k.f.debug2(t)
	live, _ := attachJSON(t, k.f.Pid, nil, "--stacks")
	path := k.crash(t)
	snap := coreJSON(t, path, k.f.Pid, "--stacks")
	if n := framesCompared(live, snap); n < 50 {
		t.Errorf("only %d goroutines have stacks in both snapshots: --stacks on a core unwinds nothing?", n)
	}
	compareCoreWithLive(t, e, "kernel core", live, snap)
	compareWithOracle(t, e, snap, before, before, compareOptions{})
}

// gcore writes a core of pid with GDB's gcore into dir and returns its path.
func gcore(t testing.TB, pid int, dir string) string {
	t.Helper()
	if _, err := exec.LookPath("gcore"); err != nil {
		t.Skip("gcore (GDB) is not installed: .ci/run installs gdb")
	}
	prefix := filepath.Join(dir, "gcore")
	start := time.Now()
	out, err := exec.Command("gcore", "-o", prefix, strconv.Itoa(pid)).CombinedOutput()
	path := prefix + "." + strconv.Itoa(pid)
	if _, serr := os.Stat(path); err != nil || serr != nil {
		t.Fatalf("gcore -o %s %d: %v %v\n%s", prefix, pid, err, serr, out)
	}
	t.Logf("gcore: %v", time.Since(start).Round(time.Millisecond))
	return path
}

// dlvDump writes a core of pid with Delve's dump command and detaches, leaving it running.
func dlvDump(t testing.TB, dlv string, pid int, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "dlv.core")
	cmd := exec.Command(dlv, "attach", strconv.Itoa(pid), "--allow-non-terminal-interactive=true")
	// quit, and "n" to "Would you like to kill the process?".
	cmd.Stdin = strings.NewReader("dump " + path + "\nquit\nn\n")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if _, serr := os.Stat(path); err != nil || serr != nil {
		t.Fatalf("dlv attach %d, dump %s: %v %v\n%s", pid, path, err, serr, out)
	}
	t.Logf("dlv dump: %v", time.Since(start).Round(time.Millisecond))
	return path
}

// coreJSON runs "gorigin core PATH --format json" with extra flags, requires exit status
// 0 and a core snapshot of pid, and returns it.
func coreJSON(t testing.TB, path string, pid int, flags ...string) *snapshot.Snapshot {
	t.Helper()
	args := append([]string{"core", path, "--format", "json"}, flags...)
	r := runGorigin(t, nil, args...)
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	snap, err := snapshot.Decode(bytes.NewReader(r.Stdout))
	if err != nil {
		t.Fatalf("gorigin %s: %v\nstdout starts: %.400s", strings.Join(args, " "), err, r.Stdout)
	}
	if snap.Source.Kind != "core" || snap.Source.Pid != pid {
		t.Fatalf("snapshot source is %+v, want kind core and pid %d", snap.Source, pid)
	}
	t.Logf("gorigin core %s: %v, %d goroutines", filepath.Base(path), r.Elapsed.Round(time.Millisecond), len(snap.Goroutines))
	return snap
}

// compareCoreWithLive requires the core's snapshot to equal the live one goroutine by
// goroutine (the fixture's goroutines, the runtime's and goroutine 1): the same ids, and
// for each the same parent, status, wait reason, origin, start function, labels, stack
// size, system flag and (with --stacks) frames. The fixture's busy loops may be caught in another state. The
// goroutines of the HTTP requests the test made come and go, and are left out.
func compareCoreWithLive(t *testing.T, e *expectation, producer string, live, core *snapshot.Snapshot) {
	t.Helper()
	if core.Source.GoVersion != live.Source.GoVersion || core.Source.Exe != live.Source.Exe {
		t.Errorf("%s: source %s %s, live %s %s", producer, core.Source.GoVersion, core.Source.Exe, live.Source.GoVersion, live.Source.Exe)
	}
	kept := func(s *snapshot.Snapshot) map[int64]snapshot.Goroutine {
		out := map[int64]snapshot.Goroutine{}
		for _, g := range s.Goroutines {
			inFixture := g.Origin != nil && e.files[g.Origin.File]
			startsInMain := g.Start != nil && strings.HasPrefix(g.Start.Func, "main.")
			if g.ID == 1 || g.System || inFixture || startsInMain {
				out[g.ID] = g
			}
		}
		return out
	}
	lg, cg := kept(live), kept(core)
	if len(lg) < 50 {
		t.Fatalf("%s: the live snapshot has %d of the fixture's goroutines: the comparison would mean little", producer, len(lg))
	}
	for id, l := range lg {
		c, ok := cg[id]
		if !ok {
			t.Errorf("%s: goroutine %d (%s) is live but not in the core", producer, id, describe(l))
			continue
		}
		busy := l.Origin != nil && restless(e.name(origin{l.Origin.File, l.Origin.Line}))
		if !sameGoroutine(l, c, busy) {
			t.Errorf("%s: goroutine %d differs:\n  live %s\n  core %s", producer, id, describe(l), describe(c))
		}
	}
	for id, c := range cg {
		if _, ok := lg[id]; !ok {
			t.Errorf("%s: goroutine %d (%s) is in the core but was not live", producer, id, describe(c))
		}
	}
}

// sameGoroutine compares what a core and a live snapshot must agree on. System
// goroutines' states (GC workers, the scavenger) and busy loops move on their own.
func sameGoroutine(l, c snapshot.Goroutine, busy bool) bool {
	loc := func(x *snapshot.Location) string {
		if x == nil {
			return ""
		}
		return fmt.Sprintf("%s %s:%d %s", x.Func, x.File, x.Line, x.PC)
	}
	same := l.ParentID == c.ParentID && loc(l.Origin) == loc(c.Origin) && loc(l.Start) == loc(c.Start) &&
		l.System == c.System && l.LockedToThread == c.LockedToThread && reflect.DeepEqual(l.Labels, c.Labels)
	if busy || l.System {
		return same
	}
	return same && l.Status == c.Status && l.WaitReason == c.WaitReason && l.StackBytes == c.StackBytes &&
		reflect.DeepEqual(frameLines(l.Frames), frameLines(c.Frames))
}

// frameLines is a stack as "function file:line" lines.
func frameLines(fs []snapshot.Location) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s:%d", f.Func, f.File, f.Line))
	}
	return out
}

// framesCompared counts the goroutines that have a stack in both snapshots.
func framesCompared(a, b *snapshot.Snapshot) int {
	has := map[int64]bool{}
	for _, g := range a.Goroutines {
		has[g.ID] = len(g.Frames) > 0
	}
	n := 0
	for _, g := range b.Goroutines {
		if has[g.ID] && len(g.Frames) > 0 {
			n++
		}
	}
	return n
}

func describe(g snapshot.Goroutine) string {
	o, s := "-", "-"
	if g.Origin != nil {
		o = fmt.Sprintf("%s:%d", g.Origin.File, g.Origin.Line)
	}
	if g.Start != nil {
		s = g.Start.Func
	}
	return fmt.Sprintf("parent %d %s/%q origin %s start %s stack %d system %v labels %v", g.ParentID, g.Status, g.WaitReason, o, s, g.StackBytes, g.System, g.Labels)
}

// A crashingFixture is the fixture run to dump core on SIGQUIT (GOTRACEBACK=crash) into
// its own directory.
type crashingFixture struct {
	f   *fixture
	dir string
}

// startCrashingFixture starts bin with GOTRACEBACK=crash and no core size limit, in a
// directory of its own, where the kernel writes its core. It skips when this machine's
// kernel sends cores elsewhere.
func startCrashingFixture(t *testing.T, bin string) *crashingFixture {
	t.Helper()
	return startCrashing(t, bin, "-n", strconv.Itoa(extraGoroutines))
}

// startCrashing is startCrashingFixture for any program and arguments.
func startCrashing(t *testing.T, bin string, args ...string) *crashingFixture {
	t.Helper()
	pattern, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	if err != nil {
		t.Skipf("cannot read /proc/sys/kernel/core_pattern: %v", err)
	}
	if p := strings.TrimSpace(string(pattern)); strings.HasPrefix(p, "|") || strings.Contains(p, "/") {
		t.Skipf("kernel cores go to %q on this machine, not to the process's directory: set it to \"core\" to test them", p)
	}
	dir := t.TempDir()
	script := fmt.Sprintf("cd %q && ulimit -c unlimited && GOTRACEBACK=crash exec \"$0\" \"$@\"", dir)
	return &crashingFixture{f: startFixture(t, "/bin/sh", append([]string{"-c", script, bin}, args...)...), dir: dir}
}

// crash sends SIGQUIT, waits for the process to die and returns the core's path.
func (k *crashingFixture) crash(t *testing.T) string {
	t.Helper()
	if err := syscall.Kill(k.f.Pid, syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := testenv.StatState(k.f.Pid, k.f.Pid)
		if err != nil || st == "Z" {
			break // the core is written before the process becomes a zombie
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still alive a minute after SIGQUIT (state %s)", k.f.Pid, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	matches, _ := filepath.Glob(filepath.Join(k.dir, "core*"))
	if len(matches) != 1 {
		t.Fatalf("after SIGQUIT with GOTRACEBACK=crash, %s holds %v, want one core file\nstderr ends:\n%s", k.dir, matches, tail(k.f.stderr.String(), 800))
	}
	return matches[0]
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
