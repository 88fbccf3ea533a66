package exporter

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestMain lets the test binary be a child Go process the exporter can follow.
func TestMain(m *testing.M) {
	if os.Getenv("GORIGIN_EXPORTER_TEST_CHILD") == "1" {
		io.Copy(io.Discard, os.Stdin) // until the test closes it
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startChild starts a Go process (this test binary) that runs until stop is called.
func startChild(t *testing.T) (pid int, stop func()) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "GORIGIN_EXPORTER_TEST_CHILD=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			in.Close()
			cmd.Process.Kill() // by pid
			cmd.Wait()
		})
	}
	t.Cleanup(stop)
	return cmd.Process.Pid, stop
}

// fakeSnapshots stands in for gorigin's attach: it counts calls and fails the test if two
// snapshots of one process ever overlap.
type fakeSnapshots struct {
	t        *testing.T
	mu       sync.Mutex
	calls    int
	inFlight map[int]bool
}

func (f *fakeSnapshots) take(ctx context.Context, pid int) (*snapshot.Snapshot, error) {
	f.mu.Lock()
	if f.inFlight[pid] {
		f.t.Errorf("two snapshots of pid %d at once", pid)
	}
	f.inFlight[pid] = true
	f.calls++
	f.mu.Unlock()
	time.Sleep(time.Millisecond) // room for an overlap to show
	defer func() { f.mu.Lock(); delete(f.inFlight, pid); f.mu.Unlock() }()
	g := snapshot.Goroutine{Status: snapshot.StatusWaiting, WaitReason: "chan receive", Origin: &snapshot.Location{File: "/src/main.go", Line: 12}}
	return &snapshot.Snapshot{Source: snapshot.Source{Pid: pid, Exe: "/bin/fake"}, Goroutines: []snapshot.Goroutine{g, g, g}}, nil
}

func (f *fakeSnapshots) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func pidsOf(e *Exporter) []int {
	var out []int
	for _, s := range e.States() {
		out = append(out, s.Pid)
	}
	return out
}

// TestScrapeOnlyReads scrapes the exporter's handler many times, concurrently with
// running rounds, and checks that snapshots happen only in rounds (one per target per
// round, never two of one process at once), that the samples are the last round's, and
// that the families pass Prometheus's own lint (naming conventions: units, _total).
func TestScrapeOnlyReads(t *testing.T) {
	pid, _ := startChild(t)
	fake := &fakeSnapshots{t: t, inFlight: map[int]bool{}}
	e, err := New(Options{Pids: []int{pid}, Interval: time.Hour, Snapshot: fake.take})
	if err != nil {
		t.Fatal(err)
	}
	e.Round(context.Background())
	reg := prometheus.NewRegistry()
	reg.MustRegister(e)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	defer srv.Close()

	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`gorigin_goroutines{exe=%q,origin="/src/main.go:12",pid="%d",start="",state="chan receive"} 3`, exe, pid)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				resp, err := http.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !strings.Contains(string(body), want) {
					t.Errorf("scrape lacks the round's group %s:\n%s", want, body)
					return
				}
			}
		})
	}
	wg.Go(func() { e.Round(context.Background()); e.Round(context.Background()) })
	wg.Wait()
	if n := fake.count(); n != 3 {
		t.Errorf("%d snapshots for 3 rounds of 1 target and 40 scrapes: want 3 (scrapes must not snapshot)", n)
	}
	problems, err := testutil.CollectAndLint(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	// OpenMetrics when asked for.
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") || !strings.HasSuffix(string(body), "# EOF\n") {
		t.Errorf("asked for OpenMetrics, got %q:\n%s", ct, body)
	}
}

// TestFollowsProcesses: with All a Go process that starts is followed and dropped when it
// exits; a pid given is dropped when it exits and stays dropped.
func TestFollowsProcesses(t *testing.T) {
	fake := &fakeSnapshots{t: t, inFlight: map[int]bool{}}
	all, err := New(Options{All: true, Interval: time.Hour, Snapshot: fake.take})
	if err != nil {
		t.Fatal(err)
	}
	pid, stop := startChild(t)
	given, err := New(Options{Pids: []int{pid}, Interval: time.Hour, Snapshot: fake.take})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*Exporter{all, given} {
		e.Round(context.Background())
		if !slices.Contains(pidsOf(e), pid) {
			t.Errorf("the running child %d is not followed: %v", pid, pidsOf(e))
		}
		if slices.Contains(pidsOf(e), os.Getpid()) {
			t.Errorf("the exporter follows itself")
		}
	}
	stop()
	for _, e := range []*Exporter{all, given} {
		e.Round(context.Background())
		if slices.Contains(pidsOf(e), pid) {
			t.Errorf("the exited child %d is still followed", pid)
		}
	}
	if _, err := New(Options{Pids: []int{pid}, Interval: time.Hour, Snapshot: fake.take}); err == nil {
		t.Errorf("New accepts the pid of a process that exited")
	}
}
