package integration

// The Delve backends: gorigin attach --backend delve (Delve's pkg/proc embedded) and
// gorigin attach --dlv HOST:PORT (a client of a running headless dlv) must give the native
// backend's snapshot of the same process, leave the process running (and the dlv session
// as they found it), and agree with Delve's own goroutines -group goloc.

import (
	"bufio"
	"debug/elf"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-delve/delve/service/api"
	"github.com/go-delve/delve/service/rpc2"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// needDlv skips a test when dlv is missing (.ci/run installs it).
func needDlv(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("dlv")
	if err != nil {
		t.Skip("dlv is not installed: go install github.com/go-delve/delve/cmd/dlv@v1.27.2 (.ci/run installs it)")
	}
	return p
}

// delveAccepts says whether Delve v1.27.2 supports binaries of v's Go release
// (pkg/goversion: Go 1.25 to 1.27). dlv core and dlv exec refuse the others without
// --check-go-version=false; dlv attach does not check.
func delveAccepts(v variant) bool { return v.minor() >= 25 && v.minor() <= 27 }

// TestAttachDelveBackends snapshots the fixture with the embedded Delve backend and through
// a headless dlv (running, then halted), and compares each with the native backend's
// snapshot and the runtime's own dump; the halted one also with Delve's goroutine groups.
func TestAttachDelveBackends(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	dlv := needDlv(t)
	vs := []variant{hostVariant(t), {Toolchain: "go1.20.14"}, {Toolchain: "go1.27.3"}}
	if testing.Short() {
		vs = vs[:1]
	}
	prebuild(fixtureDir(t), vs)
	for _, v := range vs {
		t.Run(v.String(), func(t *testing.T) {
			bin := fixtureBinary(t, v)
			e := expect(t, v, extraGoroutines)
			f := startFixture(t, bin, "-n", strconv.Itoa(extraGoroutines))

			// Embedded Delve, then native, back to back.
			before := f.debug2(t)
			// Delve's attach alone takes seconds on a busy machine: a generous --max-freeze
			// keeps this a test of the answers (the limit has tests of its own).
			delveSnap, drun := attachJSON(t, f.Pid, nil, "--backend", "delve", "--max-freeze", "10m")
			testenv.CheckRunsFreely(t, f.Pid, time.Second)
			nativeSnap, nrun := attachJSON(t, f.Pid, nil)
			after := f.debug2(t)
			f.checkAnswers(t)
			checkSource(t, v, delveSnap, "always")
			if delveSnap.Source.Backend != "delve" {
				t.Errorf("source.backend %q, want delve", delveSnap.Source.Backend)
			}
			checkDelveVersionWarning(t, v, delveSnap)
			compareWithOracle(t, e, delveSnap, before, after, compareOptions{})
			compareSnapshots(t, e, delveSnap, nativeSnap)
			t.Logf("--backend delve: %v wall, frozen %.1f ms; native: %v wall, frozen %.1f ms; %d goroutines",
				drun.Elapsed.Round(time.Millisecond), float64(delveSnap.Source.FreezeMicros)/1000,
				nrun.Elapsed.Round(time.Millisecond), float64(nativeSnap.Source.FreezeMicros)/1000, len(delveSnap.Goroutines))

			// A headless dlv that lets the process run (--continue). dlv attach checks no Go
			// version (only dlv core and dlv exec refuse a release outside 1.25 to 1.27).
			addr := startHeadlessDlv(t, dlv, f.Pid)
			checkDlvState(t, addr, true)
			dlvSnap, rrun := attachJSON(t, f.Pid, nil, "--dlv", addr)
			checkDlvState(t, addr, true) // running again, and dlv answers another client
			checkRunsUnderDebugger(t, f.Pid)
			f.checkAnswers(t)
			if dlvSnap.Source.Backend != "dlv" || dlvSnap.Source.FreezeMicros <= 0 {
				t.Errorf("source %+v: want backend dlv and the halt measured", dlvSnap.Source)
			}
			checkDelveVersionWarning(t, v, dlvSnap)
			compareSnapshots(t, e, dlvSnap, nativeSnap)
			t.Logf("--dlv (running session): %v wall, halted %.1f ms", rrun.Elapsed.Round(time.Millisecond), float64(dlvSnap.Source.FreezeMicros)/1000)

			// Without the pid: gorigin asks dlv (halting it briefly for the question).
			r := runGorigin(t, nil, "attach", "--dlv", addr, "--format", "json", "--top", "1")
			if r.Code != 0 {
				t.Errorf("attach --dlv without a pid: %v", r)
			}
			checkDlvState(t, addr, true)

			// The same session, halted by another client: gorigin reads it as it is and
			// leaves it halted, and Delve's own goroutine groups describe the same state.
			c := dialDlv(t, addr)
			if _, err := c.Halt(); err != nil {
				t.Fatalf("halt through dlv: %v", err)
			}
			haltedSnap, _ := attachJSON(t, f.Pid, nil, "--dlv", addr)
			checkDlvState(t, addr, false)
			if !slices.ContainsFunc(haltedSnap.Warnings, func(w string) bool { return strings.Contains(w, "already halted") }) {
				t.Errorf("no warning that the session was found halted: %q", haltedSnap.Warnings)
			}
			compareSnapshots(t, e, haltedSnap, nativeSnap)
			compareWithDelveGroups(t, e, c, haltedSnap)
			c.Disconnect(true) // continue and go
			checkDlvState(t, addr, true)

			stopHeadlessDlv(t, addr)
			testenv.CheckRunsFreely(t, f.Pid, 2*time.Second)
			f.checkAnswers(t)
		})
	}
}

// checkDelveVersionWarning requires the snapshot to say so when Delve itself does not
// support the target's Go release, and to say nothing otherwise.
func checkDelveVersionWarning(t *testing.T, v variant, snap *snapshot.Snapshot) {
	t.Helper()
	warned := slices.ContainsFunc(snap.Warnings, func(w string) bool { return strings.Contains(w, "Delve v1.27.2 supports Go") })
	if warned == delveAccepts(v) {
		t.Errorf("%s: Delve-version warning %v, want %v: %q", v, warned, !delveAccepts(v), snap.Warnings)
	}
}

var dlvListeningRE = regexp.MustCompile(`API server listening at: (\S+)`)

// startHeadlessDlv attaches a headless, multi-client dlv to pid and lets the process run,
// and returns once it runs. Cleanup detaches it if the test has not.
func startHeadlessDlv(t *testing.T, dlv string, pid int) string {
	t.Helper()
	args := []string{"attach", strconv.Itoa(pid), "--headless", "--listen=127.0.0.1:0",
		"--accept-multiclient", "--api-version=2", "--continue"}
	cmd := exec.Command(dlv, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dlv: %v", err)
	}
	addrs := make(chan string, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := dlvListeningRE.FindStringSubmatch(sc.Text()); m != nil {
				addrs <- m[1]
			}
			log.WriteString(sc.Text() + "\n")
		}
		close(addrs)
	}()
	var addr string
	select {
	case a, ok := <-addrs:
		if !ok {
			cmd.Wait()
			t.Fatalf("dlv %s exited before listening", strings.Join(args, " "))
		}
		addr = a
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("dlv did not listen within a minute")
	}
	t.Cleanup(func() {
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			c := rpc2.NewClientFromConn(conn)
			c.Halt() // dlv detaches only a halted process
			c.Detach(false)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill() // by pid: os.Process holds it
			<-done
		}
	})
	// dlv says where it listens before its own client continues the process (--continue):
	// a client that came in between would find the session halted.
	c := dialDlv(t, addr)
	defer c.Disconnect(false)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		st, err := c.GetStateNonBlocking()
		if err != nil {
			t.Fatalf("dlv at %s: %v", addr, err)
		}
		if st.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dlv attach --continue at %s did not continue pid %d within a minute", addr, pid)
		}
	}
	t.Logf("dlv attach %d --headless at %s", pid, addr)
	return addr
}

// stopHeadlessDlv detaches dlv from its process, which runs on, and waits for dlv to end.
func stopHeadlessDlv(t *testing.T, addr string) {
	t.Helper()
	c := dialDlv(t, addr)
	if _, err := c.Halt(); err != nil { // dlv detaches only a halted process
		t.Errorf("halt through dlv: %v", err)
	}
	if err := c.Detach(false); err != nil {
		t.Errorf("detach dlv: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return
		}
		conn.Close()
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("dlv at %s still listens after its detach", addr)
}

// dialDlv is the test's own dlv client (rpc2.NewClient exits the program when it cannot
// connect). Cleanup disconnects it without touching the session.
func dialDlv(t *testing.T, addr string) *rpc2.RPCClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connect to dlv at %s: %v", addr, err)
	}
	conn.SetDeadline(time.Now().Add(time.Minute))
	c := rpc2.NewClientFromConn(conn)
	t.Cleanup(func() { conn.Close() })
	return c
}

// checkDlvState requires dlv at addr to answer a new client, and its process to be running
// (or halted).
func checkDlvState(t *testing.T, addr string, running bool) {
	t.Helper()
	c := dialDlv(t, addr)
	defer c.Disconnect(false)
	deadline := time.Now().Add(2 * time.Second)
	for {
		st, err := c.GetStateNonBlocking()
		if err != nil {
			t.Errorf("dlv at %s does not answer another client: %v", addr, err)
			return
		}
		if st.Running == running {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("dlv at %s: running=%v, want %v", addr, st.Running, running)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkRunsUnderDebugger requires every thread of pid to be out of any stop: the debugger
// still traces it, but it runs.
func checkRunsUnderDebugger(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		states, err := testenv.Threads(pid)
		if err != nil {
			t.Errorf("pid %d: %v", pid, err)
			return
		}
		var bad []string
		for _, s := range states {
			if s.Stopped() {
				bad = append(bad, fmt.Sprintf("thread %d: %s", s.TID, s.State))
			}
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("pid %d is left stopped under dlv:\n  %s", pid, strings.Join(bad, "\n  "))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// compareWithDelveGroups compares gorigin's groups with Delve's "goroutines -group goloc"
// (ListGoroutines grouped by GoroutineGoLoc) of the same halted process state.
//
// What can match: Delve's goloc is the go statement's file:line (looked up at gopc-1, as
// the runtime and gorigin do), so for each go statement in the fixture the number of
// goroutines must be the same. What cannot: Delve's group name says "in FUNC" with the
// physical function around the PC, where gorigin names the innermost inlined function,
// and gorigin's default key also splits a go statement by start function (a spawn
// helper's goroutines), so gorigin's groups are summed by file:line first. Delve lists
// the runtime's goroutines too; only the fixture's go statements are compared.
func compareWithDelveGroups(t *testing.T, e *expectation, c *rpc2.RPCClient, snap *snapshot.Snapshot) {
	t.Helper()
	_, groups, _, tooMany, err := c.ListGoroutinesWithFilter(0, 0, nil,
		&api.GoroutineGroupingOptions{GroupBy: api.GoroutineGoLoc, MaxGroupMembers: 1}, nil)
	if err != nil {
		t.Fatalf("dlv goroutines -group goloc: %v", err)
	}
	if tooMany {
		t.Fatalf("dlv goroutines -group goloc: too many groups")
	}
	delveCount := map[origin]int{}
	for _, g := range groups {
		loc, _, _ := strings.Cut(g.Name, " in ")
		i := strings.LastIndexByte(loc, ':')
		line, err := strconv.Atoi(loc[i+1:])
		if i < 0 || err != nil {
			t.Errorf("dlv group %q: want FILE:LINE in FUNC", g.Name)
			continue
		}
		delveCount[origin{loc[:i], line}] += g.Total
	}
	ours := map[origin]int{}
	for _, g := range snap.Goroutines {
		if g.Origin != nil && g.ID != 1 {
			ours[origin{g.Origin.File, g.Origin.Line}]++
		}
	}
	compared := 0
	for o, s := range e.byOrigin {
		if ours[o] != delveCount[o] {
			t.Errorf("go statement %s (%s): gorigin %d goroutines, dlv goroutines -group goloc %d", s.Name, o, ours[o], delveCount[o])
		}
		compared += ours[o]
	}
	if compared < 50 {
		t.Errorf("only %d fixture goroutines compared with Delve's groups: the comparison would mean little", compared)
	}
	t.Logf("dlv goroutines -group goloc agrees on %d go statements (%d goroutines; %d Delve groups in all)", len(e.byOrigin), compared, len(groups))
}

// TestDelveBackendKilledMidFreeze kills gorigin while the embedded Delve holds the target
// stopped: the kernel detaches it, the guard resumes it if a SIGSTOP was left pending, and
// Delve's breakpoints were already removed.
func TestDelveBackendKilledMidFreeze(t *testing.T) {
	gor := needGorigin(t)
	testenv.NeedPtrace(t)
	f := startFixture(t, fixtureBinary(t, hostVariant(t)), "-n", "3")
	cmd := exec.Command(gor, "attach", strconv.Itoa(f.Pid), "--backend", "delve", "--max-freeze", "30s")
	cmd.Env = append(os.Environ(), "GORIGIN_TEST_HOLD_FREEZE=20s")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	n, err := testenv.WaitAllTraceStopped(f.Pid, 30*time.Second)
	if err != nil {
		t.Fatalf("the delve backend did not freeze the fixture: %v", err)
	}
	// Past Delve's attach (which loads the executable's DWARF, about a second here) and
	// into the held freeze.
	time.Sleep(3 * time.Second)
	cmd.Process.Kill()
	cmd.Wait()
	testenv.CheckRunsFreely(t, f.Pid, 3*time.Second)
	f.checkAnswers(t)
	checkNoBreakpoints(t, f.Pid, fixtureBinary(t, hostVariant(t)))
	attachJSON(t, f.Pid, nil, "--backend", "delve")
	testenv.CheckRunsFreely(t, f.Pid, time.Second)
	checkNoBreakpoints(t, f.Pid, fixtureBinary(t, hostVariant(t)))
	t.Logf("killed gorigin with %d threads stopped by Delve; the target runs on", n)
}

// TestDelveCore reads a core written by dlv dump with Delve's core backend and requires
// the snapshot gorigin's own core reader gives of it, for a Go release Delve supports and
// one it does not (Delve's core reader itself does not check; dlv core would refuse it).
func TestDelveCore(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	dlv := needDlv(t)
	vs := []variant{hostVariant(t), {Toolchain: "go1.20.14"}}
	if testing.Short() {
		vs = vs[:1]
	}
	prebuild(fixtureDir(t), vs)
	for _, v := range vs {
		t.Run(v.String(), func(t *testing.T) {
			bin := fixtureBinary(t, v)
			e := expect(t, v, extraGoroutines)
			f := startFixture(t, bin, "-n", strconv.Itoa(extraGoroutines))
			dc := dlvDump(t, dlv, f.Pid, t.TempDir())
			testenv.CheckRunsFreely(t, f.Pid, time.Second)
			native := coreJSON(t, dc, f.Pid, "--exe", bin)
			viaDelve := coreJSON(t, dc, f.Pid, "--exe", bin, "--backend", "delve")
			if viaDelve.Source.Backend != "delve" {
				t.Errorf("source.backend %q, want delve", viaDelve.Source.Backend)
			}
			checkDelveVersionWarning(t, v, viaDelve)
			compareCoreWithLive(t, e, "delve core backend", native, viaDelve)
			compareSnapshots(t, e, viaDelve, native)
		})
	}
}

// TestDelveBadInput: the Delve backends say what is wrong, with exit status 2.
func TestDelveBadInput(t *testing.T) {
	needGorigin(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := ln.Addr().String()
	ln.Close()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no dlv listening", []string{"attach", "--dlv", free}, "start one with dlv attach"},
		{"not an address", []string{"attach", "--backend", "dlv=nohost"}, "HOST:PORT"},
		{"freeze never", []string{"attach", "1", "--backend", "delve", "--freeze", "never"}, "--backend native"},
		{"two backends", []string{"attach", "--dlv", free, "--backend", "gdb"}, "pick one"},
		{"no such process", []string{"attach", "999999999", "--backend", "delve"}, "no process"},
		{"bad backend", []string{"attach", "1", "--backend", "lldb"}, "dlv=HOST:PORT"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runGorigin(t, nil, c.args...)
			if r.Code != 2 || !strings.Contains(string(r.Stderr), c.want) {
				t.Errorf("%v\nwant exit status 2 and %q", r, c.want)
			}
		})
	}
}

// checkNoBreakpoints requires the instruction bytes of the functions where Delve's attach
// sets its crash breakpoints to be the executable's own (no int3 left behind).
func checkNoBreakpoints(t *testing.T, pid int, bin string) {
	t.Helper()
	for _, d := range textChanges(t, pid, bin) {
		t.Errorf("%s: a breakpoint left behind", d)
	}
}

// crashFuncs are the functions Delve's attach (proc.newTarget) sets breakpoints in:
// createUnrecoveredPanicBreakpoint (runtime.startpanic or runtime.fatalpanic) and
// createFatalThrowBreakpoint (runtime.throw, runtime.fatal, runtime.fatalsignal).
var crashFuncs = []string{"runtime.fatalpanic", "runtime.startpanic", "runtime.throw", "runtime.fatal", "runtime.fatalsignal"}

// textChanges lists where the first bytes (up to 4 KiB) of crashFuncs in process pid
// differ from the executable bin's, as "FUNC+OFF (ADDR): process 0xNN, executable 0xNN".
// bin must be a position-dependent executable (its addresses are the process's).
func textChanges(t *testing.T, pid int, bin string) []string {
	t.Helper()
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	if ef.Type != elf.ET_EXEC {
		t.Fatalf("%s is not a position-dependent executable", bin)
	}
	syms, err := ef.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	checked := 0
	var diffs []string
	for _, s := range syms {
		if !slices.Contains(crashFuncs, s.Name) {
			continue
		}
		sec := ef.Sections[s.Section]
		n := min(s.Size, 4096) // Delve's breakpoint is after the prologue, not at the entry
		want := make([]byte, n)
		if _, err := sec.ReadAt(want, int64(s.Value-sec.Addr)); err != nil {
			t.Fatalf("%s in %s: %v", s.Name, bin, err)
		}
		got := make([]byte, n)
		if _, err := mem.ReadAt(got, int64(s.Value)); err != nil {
			t.Fatalf("%s in pid %d: %v", s.Name, pid, err)
		}
		for i := range got {
			if got[i] != want[i] {
				diffs = append(diffs, fmt.Sprintf("%s+%d (%#x): process %#02x, executable %#02x", s.Name, i, s.Value+uint64(i), got[i], want[i]))
			}
		}
		checked++
	}
	if checked < 3 {
		t.Errorf("found only %d of the functions Delve sets breakpoints in", checked)
	}
	return diffs
}
