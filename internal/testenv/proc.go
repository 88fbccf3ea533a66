package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A Thread is what /proc/PID/task/TID/status says about one thread.
type Thread struct {
	TID       int
	State     string // "S (sleeping)", "t (tracing stop)", ...
	TracerPid int
}

// Stopped says whether the thread is stopped by a signal (T) or by a tracer (t).
func (s Thread) Stopped() bool {
	return strings.HasPrefix(s.State, "T") || strings.HasPrefix(s.State, "t")
}

// Threads reads the State and TracerPid of every thread of pid.
func Threads(pid int) ([]Thread, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, err
	}
	var states []Thread
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			continue // the thread exited meanwhile
		}
		if err != nil {
			return nil, err
		}
		s := Thread{TID: tid, TracerPid: -1}
		for line := range strings.SplitSeq(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			switch v = strings.TrimSpace(v); k {
			case "State":
				s.State = v
			case "TracerPid":
				s.TracerPid, _ = strconv.Atoi(v)
			}
		}
		if s.State == "" || s.TracerPid < 0 {
			continue // the thread exited while its status was read
		}
		states = append(states, s)
	}
	if len(states) == 0 {
		return nil, fmt.Errorf("/proc/%d/task lists no threads", pid)
	}
	return states, nil
}

// NotFree lists the threads of pid that are stopped or traced.
func NotFree(pid int) ([]string, error) {
	states, err := Threads(pid)
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, s := range states {
		if s.Stopped() || s.TracerPid != 0 {
			bad = append(bad, fmt.Sprintf("thread %d: State %q TracerPid %d", s.TID, s.State, s.TracerPid))
		}
	}
	return bad, nil
}

// WaitFree waits up to within for every thread of pid to be neither stopped nor traced,
// and returns what is still wrong then (nil: free).
func WaitFree(pid int, within time.Duration) []string {
	deadline := time.Now().Add(within)
	for {
		bad, err := NotFree(pid)
		if err != nil {
			return []string{err.Error()}
		}
		if len(bad) == 0 || time.Now().After(deadline) {
			return bad
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// CheckRunsFreely fails the test unless every thread of pid is, within the given time,
// neither stopped (State T or t) nor traced (TracerPid 0).
func CheckRunsFreely(t testing.TB, pid int, within time.Duration) {
	t.Helper()
	if bad := WaitFree(pid, within); bad != nil {
		t.Errorf("pid %d is left stopped or traced %v after gorigin ended:\n  %s", pid, within, strings.Join(bad, "\n  "))
	}
}

// StatState is the state letter of /proc/PID/task/TID/stat (the field after the
// parenthesised command name, which may itself hold spaces and parentheses).
func StatState(pid, tid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
	if err != nil {
		return "", err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+3 > len(b) {
		return "", fmt.Errorf("malformed /proc/%d/task/%d/stat", pid, tid)
	}
	return string(b[i+2 : i+3]), nil
}

// WaitAllTraceStopped waits until every thread of pid is in tracing stop ('t' in
// /proc/PID/task/*/stat), and says how many threads that was.
func WaitAllTraceStopped(pid int, within time.Duration) (int, error) {
	deadline := time.Now().Add(within)
	for {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return 0, err
		}
		var notYet []string
		read := 0
		for _, task := range tasks {
			tid, err := strconv.Atoi(task.Name())
			if err != nil {
				continue
			}
			st, err := StatState(pid, tid)
			if err != nil {
				continue // the thread exited meanwhile
			}
			read++
			if st != "t" {
				notYet = append(notYet, fmt.Sprintf("%d:%s", tid, st))
			}
		}
		if len(notYet) == 0 && read > 0 {
			return read, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("after %v, threads of pid %d not in tracing stop: %s", within, pid, strings.Join(notYet, " "))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var ptraceOnce struct {
	sync.Once
	reason string
}

// NeedPtrace skips the test when this process may not ptrace a sibling process (gorigin
// attaching to a program the test started), saying why.
func NeedPtrace(t testing.TB) {
	t.Helper()
	ptraceOnce.Do(func() { ptraceOnce.reason = ptraceUnavailable() })
	if ptraceOnce.reason != "" {
		t.Skip("needs ptrace: " + ptraceOnce.reason)
	}
}

// NeedRoot skips a test that needs root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func ptraceUnavailable() string {
	if runtime.GOOS != "linux" {
		return "gorigin attaches only on Linux"
	}
	if os.Geteuid() != 0 && !hasCapSysPtrace() {
		scope, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope")
		if err == nil && strings.TrimSpace(string(scope)) != "0" {
			return "not root, no CAP_SYS_PTRACE, and /proc/sys/kernel/yama/ptrace_scope is " +
				strings.TrimSpace(string(scope)) + " (run as root, or grant CAP_SYS_PTRACE)"
		}
	}
	// A seccomp profile (many containers) may still refuse ptrace: try it on a child.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return "no sleep command to probe ptrace with"
	}
	cmd := exec.Command(sleep, "30")
	if err := cmd.Start(); err != nil {
		return "probe: " + err.Error()
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if _, _, e := syscall.Syscall6(syscall.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(cmd.Process.Pid), 0, 0, 0, 0); e != 0 {
		return fmt.Sprintf("PTRACE_SEIZE of a child process fails: %v (a seccomp profile? run with --cap-add=SYS_PTRACE or --privileged)", e)
	}
	return ""
}

// hasCapSysPtrace reads CapEff of this process.
func hasCapSysPtrace() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			const capSysPtrace = 19
			return err == nil && caps&(1<<capSysPtrace) != 0
		}
	}
	return false
}
