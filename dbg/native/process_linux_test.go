package native

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/procfs"
	"github.com/gorigin-dev/gorigin/internal/testenv"
)

func TestAttachErrors(t *testing.T) {
	missing := unusedPid(t)
	zombie := startZombie(t)
	tests := []struct {
		name     string
		pid      int
		sentinel error
		want     string
	}{
		{"no such pid", missing, dbg.ErrNoProcess, fmt.Sprintf("no process with pid %d", missing)},
		{"pid zero", 0, dbg.ErrNoProcess, "no process with pid 0"},
		{"negative pid", -7, dbg.ErrNoProcess, "no process with pid -7"},
		{"zombie", zombie, dbg.ErrExited, "zombie"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Attach(tt.pid, Options{})
			if err == nil {
				p.Close()
				t.Fatalf("Attach(%d) succeeded, want an error", tt.pid)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("Attach(%d) = %v, want it to wrap %v", tt.pid, err, tt.sentinel)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Attach(%d) = %q, want it to say %q", tt.pid, err, tt.want)
			}
		})
	}
	t.Run("self", func(t *testing.T) {
		if _, err := Attach(os.Getpid(), Options{}); err == nil || !strings.Contains(err.Error(), "itself") {
			t.Errorf("Attach(self) = %v, want a refusal", err)
		}
	})
}

// unusedPid finds a pid with no process behind it.
func unusedPid(t *testing.T) int {
	max := 1 << 22
	if b, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			max = n
		}
	}
	for pid := max - 1; pid > max-1000; pid-- {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			return pid
		}
	}
	t.Fatal("no unused pid found")
	return 0
}

// startZombie starts a child that exits at once and is not reaped until the test ends.
func startZombie(t *testing.T) int {
	cmd := exec.Command("/bin/true")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start /bin/true for a zombie: %v", err)
	}
	t.Cleanup(func() { cmd.Wait() })
	pid := cmd.Process.Pid
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if st, err := procfs.ReadStatus(pid); err == nil && st.State == 'Z' {
			return pid
		}
	}
	t.Fatalf("child %d did not become a zombie", pid)
	return 0
}

func TestFreezeThaw(t *testing.T) {
	tg := startTarget(t, 4, 0)
	p := attach(t, tg.pid, Options{})
	checkCountersAdvance(t, p, tg) // reads work on a running process

	outer := time.Now()
	freeze(t, p)
	checkFrozen(t, tg.pid)

	got := make([]byte, 64)
	if err := p.ReadBatch([]dbg.Region{{Addr: tg.magic, Buf: got}}); err != nil {
		t.Fatal(err)
	}
	if want := magicPattern(); !bytes.Equal(got, want) {
		t.Errorf("magic = %x, want %x", got, want)
	}
	checkMixedBatch(t, p, tg)
	checkThreads(t, p, tg.pid)

	if err := p.Thaw(); err != nil {
		t.Fatal(err)
	}
	// The freeze lies inside the calls that made and ended it, however busy the machine.
	if d, around := p.LastFreeze(), time.Since(outer); d <= 0 || d > around {
		t.Errorf("LastFreeze = %v, want a positive time no longer than Freeze to Thaw (%v)", d, around)
	}
	checkRunning(t, tg.pid)
	checkCountersAdvance(t, p, tg)
	t.Logf("freeze with %d threads lasted %v", len(taskStates(t, tg.pid)), p.LastFreeze())
	if p.Expired() {
		t.Error("Expired() = true after a short freeze")
	}
}

// checkMixedBatch reads 3000 regions, some unmapped or straddling the end of a
// mapping, and compares with what /proc/PID/mem says about each one.
func checkMixedBatch(t *testing.T, p *Process, tg *target) {
	t.Helper()
	maps, err := p.Mappings()
	if err != nil {
		t.Fatal(err)
	}
	var readable []dbg.Mapping
	for _, m := range maps {
		if strings.HasPrefix(m.Perm, "r") && !strings.HasPrefix(m.Path, "[v") {
			readable = append(readable, m)
		}
	}
	if len(readable) == 0 {
		t.Fatal("no readable mappings")
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", tg.pid))
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()

	rng := rand.New(rand.NewPCG(1, 2))
	regions := make([]dbg.Region, 3000)
	for i := range regions {
		size := 1 + rng.IntN(600)
		if i%97 == 0 {
			size = 64 << 10
		}
		var addr uint64
		switch m := readable[rng.IntN(len(readable))]; {
		case i%50 == 1:
			addr = 8 // the null page
		case i%50 == 2:
			addr = 1<<47 - 1<<20 // far above any mapping of this small program
		case i%50 == 3:
			addr = m.End - uint64(size/2) // half in, half past the end
		case i%50 == 4:
			size = 0
			addr = 8
		default:
			addr = m.Start + rng.Uint64N(m.End-m.Start)
			if m.End-addr < uint64(size) {
				size = int(m.End - addr)
			}
		}
		regions[i] = dbg.Region{Addr: addr, Buf: make([]byte, size)}
	}
	regions[1234] = dbg.Region{Addr: tg.magic, Buf: make([]byte, 64)}

	err = p.ReadBatch(regions)
	var rerr *dbg.ReadError
	if !errors.As(err, &rerr) {
		t.Fatalf("ReadBatch = %v, want a *dbg.ReadError", err)
	}
	var wantFailed []int
	want := make([]byte, 64<<10)
	for i, r := range regions {
		w := want[:len(r.Buf)]
		n, err := mem.ReadAt(w, int64(r.Addr))
		// /proc/PID/mem also reads PROT_NONE memory (it forces access): require 'r' too.
		if len(r.Buf) > 0 && (err != nil || n < len(w) || !inReadableMappings(maps, r.Addr, uint64(len(r.Buf)))) {
			wantFailed = append(wantFailed, i)
			continue
		}
		if !bytes.Equal(r.Buf, w) {
			t.Errorf("region %d (%#x, %d bytes): ReadBatch and /proc/PID/mem differ", i, r.Addr, len(r.Buf))
		}
	}
	for i := range regions {
		if (i%50 == 1 || i%50 == 2) && !slices.Contains(wantFailed, i) {
			t.Fatalf("region %d at %#x is readable in /proc/PID/mem; the test meant it to be unmapped", i, regions[i].Addr)
		}
	}
	if !slices.Equal(rerr.Failed, wantFailed) {
		t.Errorf("Failed = %d regions %v\nwant %d regions %v", len(rerr.Failed), rerr.Failed, len(wantFailed), wantFailed)
	}
	if !bytes.Equal(regions[1234].Buf, magicPattern()) {
		t.Errorf("magic in the mixed batch = %x", regions[1234].Buf)
	}
}

// inReadableMappings reports whether [addr, addr+size) lies in mappings with read
// permission, one after the other without a gap.
func inReadableMappings(maps []dbg.Mapping, addr, size uint64) bool {
	end := addr + size
	for _, m := range maps {
		if m.Start <= addr && addr < m.End {
			if !strings.HasPrefix(m.Perm, "r") {
				return false
			}
			if end <= m.End {
				return true
			}
			addr = m.End
		}
	}
	return false
}

// checkThreads compares Threads() with /proc/PID/task and checks the registers.
func checkThreads(t *testing.T, p *Process, pid int) {
	t.Helper()
	threads, err := p.Threads()
	if err != nil {
		t.Fatal(err)
	}
	var got, want []int
	for _, th := range threads {
		got = append(got, th.TID)
		if th.PC == 0 || th.SP == 0 {
			t.Errorf("thread %d: PC %#x SP %#x, want both set", th.TID, th.PC, th.SP)
		}
		if runtime.GOARCH == "amd64" && th.FS == 0 {
			t.Errorf("thread %d: FS base 0, want the Go thread's TLS", th.TID)
		}
		// Regs in NT_PRSTATUS order: amd64 rip 16, rsp 19, fs_base 21; arm64 sp 31, pc 32.
		if runtime.GOARCH == "amd64" && (len(th.Regs) != 27 || th.Regs[16] != th.PC || th.Regs[19] != th.SP || th.Regs[21] != th.FS) {
			t.Errorf("thread %d: Regs %#x disagree with PC %#x SP %#x FS %#x", th.TID, th.Regs, th.PC, th.SP, th.FS)
		}
		if runtime.GOARCH == "arm64" && (len(th.Regs) != 33 || th.Regs[32] != th.PC || th.Regs[31] != th.SP) {
			t.Errorf("thread %d: Regs %#x disagree with PC %#x SP %#x", th.TID, th.Regs, th.PC, th.SP)
		}
	}
	for _, st := range taskStates(t, pid) {
		want = append(want, st.tid)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Threads() TIDs = %v, /proc/%d/task has %v", got, pid, want)
	}
}

func TestFreezeThawRepeated(t *testing.T) {
	tg := startTarget(t, 4, 0)
	p := attach(t, tg.pid, Options{})
	var total time.Duration
	for i := 0; i < 50; i++ {
		freeze(t, p)
		if i%10 == 0 {
			checkFrozen(t, tg.pid)
		}
		if err := p.Thaw(); err != nil {
			t.Fatalf("thaw %d: %v", i, err)
		}
		if i%10 != 0 {
			total += p.LastFreeze()
		}
	}
	checkRunning(t, tg.pid)
	checkCountersAdvance(t, p, tg)
	t.Logf("45 unchecked freezes: mean %v", total/45)
}

func TestWatchdogThaws(t *testing.T) {
	tg := startTarget(t, 2, 0)
	// The limit also bounds how long Freeze waits for the threads to stop, and Expired is
	// true once a freeze outlasts it: long enough that no load makes the second freeze
	// below fail or look expired (100 ms did, on a busy machine).
	const limit = 2 * time.Second
	p := attach(t, tg.pid, Options{MaxFreeze: limit})
	outer := time.Now()
	freeze(t, p)
	checkFrozen(t, tg.pid)
	// The watchdog's timer fires when the machine gets to it: wait for it to have thawed
	// the target (Expired is true from the limit on, LastFreeze once thawed; a test
	// timeout, not a wall-clock bound, catches one that never fires).
	for !p.Expired() || p.LastFreeze() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	expired := time.Since(outer)
	checkRunning(t, tg.pid)
	checkCountersAdvance(t, p, tg) // ReadBatch still works
	if d := p.LastFreeze(); d < limit || d > expired {
		t.Errorf("LastFreeze = %v, want at least the limit (%v) and no more than until Expired was seen (%v)", d, limit, expired)
	}
	// The next freeze starts afresh.
	freeze(t, p)
	if p.Expired() {
		t.Error("Expired() still true in a new freeze")
	}
	if err := p.Thaw(); err != nil {
		t.Fatal(err)
	}
	checkRunning(t, tg.pid)
}

func TestCloseIsIdempotent(t *testing.T) {
	tg := startTarget(t, 1, 0)
	p := attach(t, tg.pid, Options{})
	freeze(t, p)
	for i := 0; i < 3; i++ {
		if err := p.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	checkRunning(t, tg.pid)
	if err := p.Freeze(); err == nil {
		t.Error("Freeze after Close succeeded")
	}
	// Closed, the pid can be attached again.
	q := attach(t, tg.pid, Options{})
	freeze(t, q)
	checkFrozen(t, tg.pid)
}

func TestExitedTarget(t *testing.T) {
	tg := startTarget(t, 1, 0)
	p := attach(t, tg.pid, Options{})
	tg.cmd.Process.Kill()
	tg.cmd.Wait()
	if err := p.Freeze(); !errors.Is(err, dbg.ErrExited) {
		t.Errorf("Freeze of an exited process = %v, want ErrExited", err)
	}
	err := p.ReadBatch([]dbg.Region{{Addr: tg.magic, Buf: make([]byte, 8)}, {Addr: tg.counters, Buf: make([]byte, 8)}})
	var rerr *dbg.ReadError
	if !errors.As(err, &rerr) || !errors.Is(err, dbg.ErrExited) || !slices.Equal(rerr.Failed, []int{0, 1}) {
		t.Errorf("ReadBatch of an exited process = %v, want a ReadError for both regions wrapping ErrExited", err)
	}
}

// TestKilledWhileFreezing: the target is killed (and reaped by its parent, as a
// supervisor would) while Freeze is stopping its threads, at a different moment each
// round. Freeze must notice that nothing is left to stop and return (ErrExited, or nil if
// it finished first) instead of waiting for a thread that will never report a stop until
// its deadline: the deadline here is ten minutes, so a Freeze that waits for it fails
// the test by its timeout, and the error must never be "did not stop in time".
func TestKilledWhileFreezing(t *testing.T) {
	for round := range 12 {
		tg := startTarget(t, 4, 0)
		p := attach(t, tg.pid, Options{MaxFreeze: 10 * time.Minute})
		done := make(chan error, 1)
		go func() { done <- p.Freeze() }()
		// Kill once the first thread is in tracing stop, a little later each round.
		for !anyTraceStopped(tg.pid) {
			runtime.Gosched()
		}
		time.Sleep(time.Duration(round) * 50 * time.Microsecond)
		tg.cmd.Process.Kill()
		go tg.cmd.Wait()
		err := <-done
		if err != nil && (!errors.Is(err, dbg.ErrExited) || strings.Contains(err.Error(), "in time")) {
			t.Fatalf("round %d: Freeze of a process killed while it was being frozen = %v, want ErrExited or nil", round, err)
		}
		if err := p.Close(); err != nil && !errors.Is(err, dbg.ErrExited) {
			t.Errorf("round %d: Close: %v", round, err)
		}
	}
}

// anyTraceStopped says whether a thread of pid is in tracing stop.
func anyTraceStopped(pid int) bool {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		if st, err := testenv.StatState(pid, tid); err == nil && st == "t" {
			return true
		}
	}
	return len(ents) == 0
}

// TestFreezerDiesTargetRunsOn: a freezer process (this test binary) dies mid-freeze.
// On SIGKILL the kernel must detach; on SIGINT, SIGTERM and SIGHUP the package's
// handler thaws the target and exits with 128+signal. Either way the target must be
// running and untraced soon after (10s at most, a deadline for a loaded machine).
func TestFreezerDiesTargetRunsOn(t *testing.T) {
	tests := []struct {
		sig      syscall.Signal
		exitCode int // -1: killed by the signal
	}{
		{syscall.SIGKILL, -1},
		{syscall.SIGINT, 130},
		{syscall.SIGTERM, 143},
		{syscall.SIGHUP, 129},
	}
	for _, tt := range tests {
		t.Run(tt.sig.String(), func(t *testing.T) {
			tg := startTarget(t, 2, 0)
			attach(t, tg.pid, Options{}).Close() // skips when ptrace is not permitted

			freezer := exec.Command(os.Args[0], "-test.run=^$")
			freezer.Env = append(os.Environ(), freezerEnv+"="+strconv.Itoa(tg.pid))
			out, err := freezer.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			freezer.Stderr = &stderr
			if err := freezer.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				freezer.Process.Kill()
				freezer.Wait()
			})
			line, _ := bufio.NewReader(out).ReadString('\n')
			if line != "frozen\n" {
				t.Fatalf("freezer said %q, want \"frozen\"", line)
			}
			checkFrozen(t, tg.pid)

			// Another tracer is refused with a message that names the freezer.
			_, err = Attach(tg.pid, Options{})
			if want := fmt.Sprintf("already traced by pid %d", freezer.Process.Pid); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Attach to a traced pid = %v, want it to say %q", err, want)
			}

			if err := freezer.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			freezer.Wait()
			if code := freezer.ProcessState.ExitCode(); code != tt.exitCode {
				t.Errorf("freezer exit code %d, want %d (stderr: %q)", code, tt.exitCode, stderr.String())
			}
			var last error
			for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
				if last = notStopped(tg.pid, taskStates(t, tg.pid)); last == nil {
					break
				}
			}
			if last != nil {
				t.Fatalf("10s after the freezer got %v: %v", tt.sig, last)
			}
			p := attach(t, tg.pid, Options{})
			checkCountersAdvance(t, p, tg)
		})
	}
}

// TestThawReleasesUnstoppedThreads: a thread seized but never seen stopped cannot be
// detached with PTRACE_DETACH; Thaw must retire the tracer thread, whose exit makes
// the kernel detach it, and a later Freeze must work with a new tracer.
func TestThawReleasesUnstoppedThreads(t *testing.T) {
	tg := startTarget(t, 1, 0)
	p := attach(t, tg.pid, Options{})
	p.mu.Lock()
	p.tr = startTracer()
	var e syscall.Errno
	p.tr.do(func() bool {
		e = ptrace(unix.PTRACE_SEIZE, tg.pid, 0, 0) // no interrupt: it runs on, traced
		return false
	})
	p.threads = []tracee{{tid: tg.pid}}
	p.frozen = true
	old := p.tr
	p.mu.Unlock()
	if e != 0 {
		t.Fatalf("PTRACE_SEIZE: %v", e)
	}
	if st, _ := procfs.ReadStatus(tg.pid); st.TracerPid != old.tid {
		t.Fatalf("TracerPid %d, want the tracer thread %d", st.TracerPid, old.tid)
	}
	if err := p.Thaw(); err != nil {
		t.Fatal(err)
	}
	if p.tr != nil {
		t.Error("the tracer was not retired")
	}
	checkRunning(t, tg.pid)
	freeze(t, p)
	checkFrozen(t, tg.pid)
	if err := p.Thaw(); err != nil {
		t.Fatal(err)
	}
	checkRunning(t, tg.pid)
}

// TestSignalReinjected makes the main thread report a signal-delivery-stop for SIGUSR1
// (as Go's SIGURG preemption signals do during a freeze) and checks that the thaw
// hands the signal back: the target counts it. The control case drops it instead, to
// show that the check can tell.
func TestSignalReinjected(t *testing.T) {
	for _, reinject := range []bool{true, false} {
		t.Run(fmt.Sprintf("reinject=%v", reinject), func(t *testing.T) {
			tg := startTarget(t, 1, 0)
			p := attach(t, tg.pid, Options{})
			freeze(t, p)
			p.mu.Lock()
			var err error
			p.tr.do(func() bool {
				err = catchSignal(p, tg.pid, syscall.SIGUSR1)
				return false
			})
			if !reinject {
				for i := range p.threads {
					p.threads[i].sig = 0
				}
			}
			p.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Thaw(); err != nil {
				t.Fatal(err)
			}
			checkRunning(t, tg.pid)
			want := uint64(0)
			if reinject {
				want = 1
			}
			// Wait long for a signal that must come; a second shows one that must not.
			wait := time.Second
			if want == 1 {
				wait = 30 * time.Second
			}
			var got uint64
			for end := time.Now().Add(wait); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
				buf := make([]byte, 8)
				if err := p.ReadBatch([]dbg.Region{{Addr: tg.usr1, Buf: buf}}); err != nil {
					t.Fatal(err)
				}
				if got = uint64(buf[0]); got == want && want == 1 {
					break
				}
			}
			if got != want {
				t.Errorf("target counted %d SIGUSR1, want %d", got, want)
			}
		})
	}
}

// catchSignal runs on the tracer thread of frozen p: it sends sig to the main thread,
// lets it run until it reports the signal-delivery-stop, and records the stop through
// waitStops, as a freeze would. Other signals (SIGURG) are passed on.
func catchSignal(p *Process, tid int, sig syscall.Signal) error {
	i := slices.IndexFunc(p.threads, func(t tracee) bool { return t.tid == tid })
	if i < 0 {
		return fmt.Errorf("main thread %d not frozen", tid)
	}
	if err := syscall.Tgkill(p.pid, tid, sig); err != nil {
		return err
	}
	pass := 0
	for range 20 {
		if e := ptrace(syscall.PTRACE_CONT, tid, 0, uintptr(pass)); e != 0 {
			return fmt.Errorf("PTRACE_CONT: %v", e)
		}
		p.threads[i].stopped = false
		if err := waitStops(p.pid, p.threads[i:i+1], time.Now().Add(time.Second)); err != nil {
			return err
		}
		if p.threads[i].sig == int(sig) {
			return nil
		}
		pass = p.threads[i].sig
	}
	return fmt.Errorf("no signal-delivery-stop for %v", sig)
}
