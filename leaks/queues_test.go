package leaks

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/dbg/native"
	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// TestQueuedFinalizersAndCleanupsAreRoots: testdata/queued holds two goroutines blocked on
// channels that only a finalizer and a cleanup queued to run reach (the runtime's
// allfin and gcCleanups blocks, outside the heap). Neither is leaked, and the explained
// path of each ends in the queue that holds it — the oracle is the fixture's construction.
func TestQueuedFinalizersAndCleanupsAreRoots(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a target")
	}
	cmd := startQueued(t)
	p, err := native.Attach(cmd.Process.Pid, native.Options{MaxFreeze: 30 * time.Second})
	if err != nil {
		t.Skipf("cannot attach (ptrace not permitted here?): %v", err)
	}
	defer p.Close()
	t.Setenv(explainEnv, "1")
	res, err := Analyze(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := capture.Take(p, capture.Options{Backend: "native"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"main.finalizerWaiter": "of the finalizers queued to run",
		"main.cleanupWaiter":   "of the cleanups queued to run",
	}
	found := map[string]bool{}
	for _, g := range snap.Goroutines {
		if g.Start == nil {
			continue
		}
		root, ok := want[g.Start.Func]
		if !ok {
			continue
		}
		found[g.Start.Func] = true
		v := res.Verdicts[g.ID]
		if v.Leak != Live {
			t.Errorf("%s (goroutine %d): %s (%s), want live", g.Start.Func, g.ID, v.Leak, v.Why)
		} else if !strings.Contains(v.Why, root) {
			t.Errorf("%s (goroutine %d) is live, but not through the queue: %s", g.Start.Func, g.ID, v.Why)
		}
	}
	for fn := range want {
		if !found[fn] {
			t.Errorf("no goroutine started in %s: the fixture did not block as designed", fn)
		}
	}
	for id, v := range res.Verdicts {
		if v.Leak == Leaked {
			t.Errorf("goroutine %d called leaked: %s", id, v.Why)
		}
	}
}

// startQueued starts testdata/queued and waits until it is ready; it ends when the test does.
func startQueued(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd, line := startTarget(t, testenv.Binary(t, testenv.Build{Dir: "testdata/queued"}), "GOMAXPROCS=1")
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("target said %q, want ready", line)
	}
	return cmd
}

// startTarget starts exe with env added, waits (up to a minute) for the first line it
// prints and returns it; the target ends when the test does (stdin closed, then killed
// by its pid if it has not exited after 5 s).
func startTarget(t *testing.T, exe string, env ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		return cmd, line
	case <-time.After(60 * time.Second):
		t.Fatal("target never got ready")
	}
	return nil, ""
}
