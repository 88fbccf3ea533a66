package agent

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/snapshot"
)

const childEnv = "GORIGIN_AGENT_CHILD_DIR"

// TestSignalWritesSnapshot runs TestChildSignal in a child process (a signal sent to the
// go test process itself would disturb it): the child starts the agent and goroutines at
// marked go statements, serves loopback HTTP load, sends itself SIGUSR1, and checks the
// file the agent writes against the markers and its own debug=2 goroutine profile.
func TestSignalWritesSnapshot(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildSignal$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestChildSignal")) {
		t.Fatalf("child did not run:\n%s", out)
	}
	t.Logf("child:\n%s", out)
}

func TestChildSignal(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("run by TestSignalWritesSnapshot in a child process")
	}
	var logs bytes.Buffer
	a, err := Start(Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()

	release := make(chan struct{})
	defer close(release)
	for range 7 {
		go blockOn(release) // GO-A
	}
	for range 3 {
		go func() { blockOn(release) }() // GO-B
	}
	lineA := markedLine(t, "signal_test.go", "// GO-A")
	lineB := markedLine(t, "signal_test.go", "// GO-B")

	// Loopback load across the snapshot: no request may fail.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	var ok, failed atomic.Int64
	stopLoad := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c := &http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				resp, err := c.Get(srv.URL)
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				} else {
					ok.Add(1)
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond)

	var debug2 bytes.Buffer // the runtime's own view, the oracle
	if err := pprof.Lookup("goroutine").WriteTo(&debug2, 2); err != nil {
		t.Fatal(err)
	}
	before := ok.Load()
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	var files []string
	for deadline := time.Now().Add(10 * time.Second); len(files) == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		files, _ = filepath.Glob(filepath.Join(dir, fmt.Sprintf("gorigin-%d-*.json", os.Getpid())))
	}
	time.Sleep(50 * time.Millisecond)
	close(stopLoad)
	wg.Wait()
	if len(files) != 1 {
		t.Fatalf("after SIGUSR1: %d snapshot files in %s, want 1; agent log:\n%s", len(files), dir, logs.String())
	}
	if ok.Load() == before || failed.Load() != 0 {
		t.Errorf("loopback load across the snapshot: %d requests succeeded after the signal, %d failed; want >0 and 0", ok.Load()-before, failed.Load())
	}
	fh, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	s, err := snapshot.Decode(fh)
	if err != nil {
		t.Fatalf("%s: %v", files[0], err)
	}
	if s.Source.Kind != "dump" || s.Source.Backend != "agent" || s.Source.Pid != os.Getpid() || s.Source.GoVersion == "" || s.Source.Exe == "" || s.Source.TakenAt.IsZero() {
		t.Errorf("source = %+v, want kind dump, backend agent, this pid, exe, Go version, time", s.Source)
	}
	for _, c := range []struct {
		name string
		line int
		want int
	}{{"GO-A", lineA, 7}, {"GO-B", lineB, 3}} {
		oracle := len(regexp.MustCompile(fmt.Sprintf(`(?m)^created by .* in goroutine \d+\n\t.*/signal_test\.go:%d `, c.line)).FindAllIndex(debug2.Bytes(), -1))
		got := countAt(s, "signal_test.go", c.line)
		if got != c.want || oracle != c.want {
			t.Errorf("%s (signal_test.go:%d): snapshot has %d goroutines, debug=2 has %d, the test started %d", c.name, c.line, got, oracle, c.want)
		}
	}
	// The agent's own goroutine, parked in its select, is in the snapshot once.
	agentLine := 0
	for _, g := range s.Goroutines {
		if g.Start != nil && g.Start.Func == "github.com/gorigin-dev/gorigin/agent.(*Agent).run" {
			agentLine++
		}
	}
	if agentLine != 1 {
		t.Errorf("snapshot has %d agent goroutines, want 1", agentLine)
	}
	t.Logf("snapshot: %d goroutines, world stopped %dµs; %d requests during the test, 0 failed", len(s.Goroutines), s.Source.FreezeMicros, ok.Load())
}
