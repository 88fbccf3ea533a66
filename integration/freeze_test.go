package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestKillMidFreeze kills gorigin with SIGKILL while the target is frozen: the kernel
// must let the target run on at once (gorigin seizes, it does not SIGSTOP), untraced,
// with its goroutines intact.
func TestKillMidFreeze(t *testing.T) {
	bin := needGorigin(t)
	testenv.NeedPtrace(t)
	v := hostVariant(t)
	e := expect(t, v, 0)
	f := startFixture(t, fixtureBinary(t, v))

	cmd := exec.Command(bin, "attach", strconv.Itoa(f.Pid), "--format", "json")
	cmd.Env = append(os.Environ(), "GORIGIN_TEST_HOLD_FREEZE=5s")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	t.Cleanup(func() {
		if !done {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})

	threads, err := testenv.WaitAllTraceStopped(f.Pid, 10*time.Second)
	if err != nil {
		t.Fatalf("gorigin (GORIGIN_TEST_HOLD_FREEZE=5s) never froze the target: %v\ngorigin stderr:\n%s", err, stderr.Bytes())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	done = true
	killed := time.Now()
	t.Logf("killed gorigin with all %d target threads in tracing stop", threads)

	testenv.CheckRunsFreely(t, f.Pid, time.Second)
	t.Logf("target running freely %v after the kill", time.Since(killed).Round(time.Millisecond))
	f.checkAnswers(t)
	checkRuntimeMatchesSource(t, e, e.selected(oracleGroups(f.debug2(t))))
}

// TestFreezeNever reads the fixture without stopping it: no freeze time, and the blocked
// goroutines still match the runtime's dump (the busy ones may be marked changed).
func TestFreezeNever(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	v := hostVariant(t)
	e := expect(t, v, extraGoroutines)
	f := startFixture(t, fixtureBinary(t, v), "-n", strconv.Itoa(extraGoroutines))

	// This one writes the snapshot with -o, to check that path too.
	out := filepath.Join(t.TempDir(), "snapshot.json")
	before := f.debug2(t)
	r := runGorigin(t, nil, "attach", strconv.Itoa(f.Pid), "--format", "json", "--freeze=never", "-o", out)
	testenv.CheckRunsFreely(t, f.Pid, 100*time.Millisecond)
	after := f.debug2(t)
	f.checkAnswers(t)
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	if len(r.Stdout) != 0 {
		t.Errorf("gorigin -o %s also wrote %d bytes to stdout", out, len(r.Stdout))
	}
	file, err := os.Open(out)
	if err != nil {
		t.Fatalf("gorigin -o %s: %v", out, err)
	}
	defer file.Close()
	snap, err := snapshot.Decode(file)
	if err != nil {
		t.Fatalf("gorigin -o %s: %v", out, err)
	}

	checkSource(t, v, snap, "never")
	compareWithOracle(t, e, snap, before, after, compareOptions{changedOK: map[string]bool{busyStatement: true}})
}

// TestAttachBadInput: wrong targets and wrong flags get exit status 2 and a message that
// says what is wrong, and the target runs on.
func TestAttachBadInput(t *testing.T) {
	needGorigin(t)
	tests := []struct {
		name string
		// target starts what to attach to and returns the pid argument and the pid that
		// must still run afterwards (0: none).
		target  func(t *testing.T) (arg string, alive int)
		flags   []string
		wantMsg func(arg string) *regexp.Regexp
		ptrace  bool
	}{
		{
			name:    "no such process",
			target:  func(t *testing.T) (string, int) { return strconv.Itoa(deadPid(t)), 0 },
			wantMsg: func(arg string) *regexp.Regexp { return regexp.MustCompile(`\b` + arg + `\b`) },
		},
		{
			name:    "not a Go program",
			target:  func(t *testing.T) (string, int) { pid := startSleep(t); return strconv.Itoa(pid), pid },
			wantMsg: func(string) *regexp.Regexp { return regexp.MustCompile(`(?i)not a Go program`) },
			ptrace:  true,
		},
		{
			name:    "not a pid",
			target:  func(t *testing.T) (string, int) { return "notapid", 0 },
			wantMsg: func(string) *regexp.Regexp { return regexp.MustCompile(`notapid`) },
		},
		{
			name: "bad freeze mode",
			target: func(t *testing.T) (string, int) {
				f := startFixture(t, fixtureBinary(t, hostVariant(t)))
				return strconv.Itoa(f.Pid), f.Pid
			},
			flags:   []string{"--freeze=sometimes"},
			wantMsg: func(string) *regexp.Regexp { return regexp.MustCompile(`sometimes`) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.ptrace {
				testenv.NeedPtrace(t)
			}
			arg, alive := tt.target(t)
			r := runGorigin(t, nil, append([]string{"attach", arg, "--format", "json"}, tt.flags...)...)
			if r.Code != 2 {
				t.Errorf("exit status %d, want 2 (usage or bad input)\n%v", r.Code, r)
			}
			if re := tt.wantMsg(arg); !re.Match(r.Stderr) {
				t.Errorf("message does not match %v:\n%s", re, r.Stderr)
			}
			if len(r.Stdout) != 0 {
				t.Errorf("wrote %d bytes to stdout on bad input", len(r.Stdout))
			}
			if alive != 0 {
				testenv.CheckRunsFreely(t, alive, 100*time.Millisecond)
				if err := syscall.Kill(alive, 0); err != nil {
					t.Errorf("target %d is gone: %v", alive, err)
				}
			}
		})
	}
}

// deadPid is the pid of a process that has exited and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true to get a dead pid: %v", err)
	}
	pid := cmd.Process.Pid
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Skipf("pid %d was reused at once", pid)
	}
	return pid
}

// startSleep starts "sleep 60", a program that is not written in Go; Cleanup kills it.
func startSleep(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}
