package native

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/onsignal"
	"github.com/gorigin-dev/gorigin/dbg/procfs"
	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// freezerEnv makes the test binary a "freezer": attach to the pid it names, freeze,
// print "frozen" and block until killed (see TestKilledFreezerLeavesTargetRunning).
const freezerEnv = "GORIGIN_NATIVE_TEST_FREEZER"

func TestMain(m *testing.M) {
	if s := os.Getenv(freezerEnv); s != "" {
		runFreezer(s)
		return
	}
	os.Exit(m.Run())
}

func runFreezer(arg string) {
	onsignal.Install() // as gorigin's cli does
	pid, err := strconv.Atoi(arg)
	if err == nil {
		var p *Process
		if p, err = Attach(pid, Options{MaxFreeze: time.Hour}); err == nil {
			err = p.Freeze()
		}
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("frozen")
	select {}
}

// spinBinary builds testdata/spin (once for every test package of a run: see testenv).
func spinBinary(tb testing.TB) string {
	tb.Helper()
	return testenv.Binary(tb, testenv.Build{Dir: "testdata/spin"})
}

// target is a running testdata/spin process.
type target struct {
	pid                         int
	spinners                    int
	magic, counters, usr1, heap uint64
	cmd                         *exec.Cmd
}

// startTarget starts testdata/spin with the given number of busy threads and heap
// bytes; it is killed when the test ends.
func startTarget(tb testing.TB, spinners, alloc int) *target {
	tb.Helper()
	cmd := exec.Command(spinBinary(tb), "-spin", strconv.Itoa(spinners), "-alloc", strconv.Itoa(alloc))
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		tb.Fatalf("reading the spin target's addresses: %v", err)
	}
	tg := &target{pid: cmd.Process.Pid, spinners: spinners, cmd: cmd}
	if _, err := fmt.Sscan(line, &tg.magic, &tg.counters, &tg.usr1, &tg.heap); err != nil {
		tb.Fatalf("parsing %q: %v", line, err)
	}
	return tg
}

// attach attaches to tg, skipping the test when ptrace is not permitted here.
func attach(tb testing.TB, pid int, opts Options) *Process {
	tb.Helper()
	p, err := Attach(pid, opts)
	if errors.Is(err, dbg.ErrPermission) {
		tb.Skipf("ptrace not permitted here (needs root or CAP_SYS_PTRACE): %v", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

func freeze(tb testing.TB, p *Process) {
	tb.Helper()
	err := p.Freeze()
	if errors.Is(err, dbg.ErrPermission) {
		tb.Skipf("ptrace not permitted here (needs root or CAP_SYS_PTRACE): %v", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
}

// taskState is what procfs says about one thread.
type taskState struct {
	tid       int
	state     byte // from /proc/PID/task/TID/stat
	tracerPid int  // from /proc/PID/task/TID/status
}

func taskStates(tb testing.TB, pid int) []taskState {
	tb.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		tb.Fatal(err)
	}
	var states []taskState
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
		if err != nil {
			continue // exited since the listing
		}
		st := taskState{tid: tid}
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
			st.state = stat[i+2]
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "TracerPid:"); ok {
				st.tracerPid, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		states = append(states, st)
	}
	if len(states) == 0 {
		tb.Fatalf("pid %d has no threads", pid)
	}
	return states
}

// checkFrozen fails unless every thread of pid is in tracing stop.
func checkFrozen(tb testing.TB, pid int) {
	tb.Helper()
	for _, st := range taskStates(tb, pid) {
		if st.state != 't' || st.tracerPid == 0 {
			tb.Errorf("thread %d: state %q tracer %d, want 't' and traced", st.tid, st.state, st.tracerPid)
		}
	}
}

// checkRunning fails unless the process and every thread are neither stopped nor
// traced.
func checkRunning(tb testing.TB, pid int) {
	tb.Helper()
	if err := notStopped(pid, taskStates(tb, pid)); err != nil {
		tb.Error(err)
	}
}

func notStopped(pid int, states []taskState) error {
	st, err := procfs.ReadStatus(pid)
	if err != nil {
		return err
	}
	if st.State == 'T' || st.State == 't' || st.TracerPid != 0 {
		return fmt.Errorf("process %d: state %q tracer %d, want running and untraced", pid, st.State, st.TracerPid)
	}
	for _, st := range states {
		if st.state == 'T' || st.state == 't' || st.tracerPid != 0 {
			return fmt.Errorf("thread %d: state %q tracer %d, want running and untraced", st.tid, st.state, st.tracerPid)
		}
	}
	return nil
}

// readCounters reads the spinners' counters through p.
func readCounters(tb testing.TB, p *Process, tg *target) []uint64 {
	tb.Helper()
	buf := make([]byte, 8*tg.spinners)
	if err := p.ReadBatch([]dbg.Region{{Addr: tg.counters, Buf: buf}}); err != nil {
		tb.Fatal(err)
	}
	c := make([]uint64, tg.spinners)
	for i := range c {
		c[i] = binary.LittleEndian.Uint64(buf[8*i:])
	}
	return c
}

// checkCountersAdvance fails unless every spinner's counter moves within 30s (a
// generous deadline: on a loaded machine a spinner may wait its turn for a while).
func checkCountersAdvance(tb testing.TB, p *Process, tg *target) {
	tb.Helper()
	before := readCounters(tb, p, tg)
	for end := time.Now().Add(30 * time.Second); ; {
		time.Sleep(20 * time.Millisecond)
		after := readCounters(tb, p, tg)
		stuck := 0
		for i := range after {
			if after[i] == before[i] {
				stuck++
			}
		}
		if stuck == 0 {
			return
		}
		if time.Now().After(end) {
			tb.Fatalf("%d of %d spinner counters did not advance: before %v after %v", stuck, len(after), before, after)
		}
	}
}

func magicPattern() []byte {
	b := make([]byte, 64)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}
