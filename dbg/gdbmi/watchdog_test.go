package gdbmi

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/procfs"
)

// watchedTarget starts a process for GDB to attach to (sleep: it neither forks nor
// starts threads, whose ptrace events would show as brief stops) and attaches.
func watchedTarget(t *testing.T, maxFreeze time.Duration) (*Process, int) {
	t.Helper()
	if _, err := exec.LookPath("gdb"); err != nil {
		t.Skip("gdb is not installed (.ci/run installs it)")
	}
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	p, err := Attach(cmd.Process.Pid, ProcessOptions{MaxFreeze: maxFreeze})
	if errors.Is(err, dbg.ErrPermission) {
		t.Skipf("cannot trace: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, cmd.Process.Pid
}

// free says why pid is not running freely (traced or stopped), or "".
func free(pid int) string {
	st, err := procfs.ReadStatus(pid)
	if err != nil {
		return err.Error()
	}
	if st.TracerPid != 0 || st.State == 't' || st.State == 'T' {
		return fmt.Sprintf("state %c, tracer %d", st.State, st.TracerPid)
	}
	return ""
}

// waitFree waits until pid runs freely.
func waitFree(pid int, within time.Duration) string {
	end := time.Now().Add(within)
	for {
		why := free(pid)
		if why == "" || time.Now().After(end) {
			return why
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkReleased checks what a freeze the watchdog ended leaves: the target untraced and
// running, the freeze expired and measured, and reads (through /proc/PID/mem) still right:
// the executable's first mapping starts with the ELF magic, as the file on disk does.
func checkReleased(t *testing.T, p *Process, pid int, maxFreeze time.Duration) {
	t.Helper()
	if !p.Expired() {
		t.Error("Expired() is false after the watchdog fired")
	}
	if err := p.Thaw(); err != nil {
		t.Errorf("Thaw after the watchdog: %v", err)
	}
	if got := p.LastFreeze(); got < maxFreeze || got > maxFreeze+2*time.Second {
		t.Errorf("LastFreeze %v, want about the max-freeze %v", got, maxFreeze)
	}
	maps, err := p.Mappings()
	if err != nil || len(maps) == 0 {
		t.Fatalf("mappings: %v", err)
	}
	want, err := os.ReadFile(maps[0].Path)
	if err != nil || len(want) < 4 {
		t.Fatalf("read %s: %v", maps[0].Path, err)
	}
	buf := make([]byte, 4)
	if err := p.ReadBatch([]dbg.Region{{Addr: maps[0].Start, Buf: buf}}); err != nil {
		t.Errorf("read after the watchdog: %v", err)
	} else if !bytes.Equal(buf, want[:4]) {
		t.Errorf("read %q at the start of %s, the file starts with %q", buf, maps[0].Path, want[:4])
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if why := waitFree(pid, time.Second); why != "" {
		t.Errorf("after Close: %s", why)
	}
}

// TestWatchdogDetaches: a freeze left on past MaxFreeze with no GDB command in flight is
// ended by the watchdog's -target-detach.
func TestWatchdogDetaches(t *testing.T) {
	const maxFreeze = 300 * time.Millisecond
	p, pid := watchedTarget(t, maxFreeze)
	start := time.Now()
	if err := p.Freeze(); err != nil {
		t.Fatal(err)
	}
	if why := free(pid); why == "" {
		t.Fatal("the target runs freely right after Freeze")
	}
	time.Sleep(maxFreeze / 2)
	if p.Expired() && time.Since(start) < maxFreeze {
		t.Error("Expired() before MaxFreeze")
	}
	if why := waitFree(pid, maxFreeze+time.Second); why != "" {
		t.Fatalf("%v after the freeze began, past MaxFreeze %v: %s", maxFreeze+time.Second+maxFreeze/2, maxFreeze, why)
	}
	checkReleased(t, p, pid, maxFreeze)
}

// TestWatchdogKillsBusyGDB: while a GDB command holds the Process (simulated by holding
// its lock), the watchdog kills GDB; the target then runs untraced, and is not left
// stopped by the SIGSTOP of GDB's attach.
func TestWatchdogKillsBusyGDB(t *testing.T) {
	const maxFreeze = 300 * time.Millisecond
	p, pid := watchedTarget(t, maxFreeze)
	if err := p.Freeze(); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock() // a command in flight
	why := waitFree(pid, maxFreeze+2*time.Second)
	p.mu.Unlock()
	if why != "" {
		t.Fatalf("still held past MaxFreeze while a command was in flight: %s", why)
	}
	select {
	case <-p.c.Dead():
	case <-time.After(time.Second):
		t.Error("gdb still runs after the watchdog let the target go")
	}
	checkReleased(t, p, pid, maxFreeze)
}

// TestThawBeforeMaxFreeze: an ordinary freeze, thawed in time, is not expired, and its
// reported freeze covers the stop of GDB's attach too.
func TestThawBeforeMaxFreeze(t *testing.T) {
	p, pid := watchedTarget(t, 2*time.Second)
	start := time.Now()
	if err := p.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := p.Thaw(); err != nil {
		t.Fatal(err)
	}
	froze := time.Since(start)
	if p.Expired() {
		t.Error("Expired() after a short freeze")
	}
	if got := p.LastFreeze(); got < p.attachStop || got > froze+p.attachStop || p.attachStop <= 0 {
		t.Errorf("LastFreeze %v, want the freeze (at most %v) plus the attach's stop %v", got, froze, p.attachStop)
	}
	// GDB stays attached (traced) until Close; only the stop matters here.
	time.Sleep(100 * time.Millisecond)
	if why := free(pid); strings.Contains(why, "state t") || strings.Contains(why, "state T") {
		t.Errorf("still stopped after Thaw: %s", why)
	}
}
