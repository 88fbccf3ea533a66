package capture

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/native"
)

// TestMain runs this test binary as a target when asked: a Go program that says ready
// and waits for its stdin to close.
func TestMain(m *testing.M) {
	if os.Getenv("GORIGIN_CAPTURE_TEST_TARGET") == "1" {
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// attachSelfTarget starts this test binary as a target (see TestMain) and attaches to it
// with the native backend; both end with the test.
func attachSelfTarget(t *testing.T) *native.Process {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to ptrace")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "GORIGIN_CAPTURE_TEST_TARGET=1")
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("the target did not start: %q, %v", line, err)
	}
	proc, err := native.Attach(cmd.Process.Pid, native.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Close() })
	return proc
}

// freezeCounter is a target that counts its freezes.
type freezeCounter struct {
	dbg.Target
	freezes int
}

func (f *freezeCounter) Freeze() error { f.freezes++; return f.Target.Freeze() }

// TestTakeContextStopsBeforeTheFreeze: a caller that leaves while the executable is read
// (the DAP client disconnected) gets its context's error, and the target is never
// stopped; with a context that stays, the same target is frozen once and snapshotted.
func TestTakeContextStopsBeforeTheFreeze(t *testing.T) {
	proc := attachSelfTarget(t)
	target := &freezeCounter{Target: proc}

	ctx, cancel := context.WithCancel(context.Background())
	snap, err := TakeContext(ctx, target, Options{Progress: func(stage string, _, _ int) {
		if stage == "reading the target" {
			cancel() // the first thing Take says, before it opens the executable
		}
	}})
	if !errors.Is(err, context.Canceled) || snap != nil {
		t.Errorf("cancelled: snapshot %v, error %v; want context.Canceled", snap != nil, err)
	}
	if target.freezes != 0 {
		t.Errorf("cancelled before the copy, the target was frozen %d times", target.freezes)
	}

	snap, err = TakeContext(context.Background(), target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if target.freezes != 1 || len(snap.Goroutines) == 0 || snap.Source.Pid != proc.Pid() {
		t.Errorf("not cancelled: %d freezes, %d goroutines of pid %d; want 1 freeze and the goroutines of pid %d",
			target.freezes, len(snap.Goroutines), snap.Source.Pid, proc.Pid())
	}
}
