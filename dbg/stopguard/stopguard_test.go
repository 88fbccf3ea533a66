package stopguard

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// state reads a process's State letter from /proc.
func state(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "gone"
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
}

// startStopped starts a sleep in a process group of its own and stops it, the way a
// debugger's orphaned probe child ends up.
func startStopped(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Stop it only once it sleeps: stopped while the dynamic loader still runs, it would
	// read the headers a test overwrites and crash when resumed.
	for !strings.Contains(readFile(fmt.Sprintf("/proc/%d/wchan", cmd.Process.Pid)), "sleep") {
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGSTOP)
	for i := 0; i < 100 && state(t, cmd.Process.Pid) != "T"; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	return cmd
}

func waitState(t *testing.T, pid int, want ...string) string {
	t.Helper()
	var s string
	for i := 0; i < 300; i++ {
		s = state(t, pid)
		for _, w := range want {
			if s == w {
				return s
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s
}

// TestGuardWhenGoriginDies: the pipe closes without "done" (gorigin died): the guard
// resumes the stopped target and ends the debugger's process group.
func TestGuardWhenGoriginDies(t *testing.T) {
	target := startStopped(t)
	debugger := startStopped(t)
	g, err := Start(target.Process.Pid, "test-guard")
	if err != nil {
		t.Fatal(err)
	}
	g.EndGroupOnDeath(debugger.Process.Pid)
	g.Resume()
	if s := waitState(t, target.Process.Pid, "S", "R"); s != "S" && s != "R" {
		t.Errorf("the target is %q, want running again", s)
	}
	if s := waitState(t, debugger.Process.Pid, "Z", "gone"); s != "Z" && s != "gone" {
		t.Errorf("the debugger's group member is %q, want ended", s)
	}
}

// TestGuardReleased: after "done" the guard touches nothing.
func TestGuardReleased(t *testing.T) {
	target := startStopped(t)
	debugger := startStopped(t)
	g, err := Start(target.Process.Pid, "test-guard")
	if err != nil {
		t.Fatal(err)
	}
	g.EndGroupOnDeath(debugger.Process.Pid)
	g.Release()
	time.Sleep(300 * time.Millisecond)
	if s := state(t, target.Process.Pid); s != "T" {
		t.Errorf("the target is %q, want left as it was (stopped)", s)
	}
	if s := state(t, debugger.Process.Pid); s != "T" {
		t.Errorf("the debugger's group member is %q, want left alone", s)
	}
}

// readFile is the content of path, or "" if it cannot be read.
func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
