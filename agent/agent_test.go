package agent

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/agent/leaktest"
	"github.com/gorigin-dev/gorigin/dump"
	"github.com/gorigin-dev/gorigin/snapshot"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// os/signal starts its own goroutine once per process, on the first signal.Notify.
var signalLoop = leaktest.IgnoreOrigin("os/signal")

func TestHandlerServesSnapshotDumpReads(t *testing.T) {
	defer leaktest.Check(t, signalLoop)
	release := make(chan struct{})
	defer close(release)
	for range 5 {
		go blockOn(release) // GO-H
	}
	line := markedLine(t, "agent_test.go", "// GO-H")
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	// What `gorigin dump URL` asks for: the URL with ?debug=2.
	resp, err := http.Get(srv.URL + "/debug/gorigin?debug=2")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	s, err := dump.Parse(resp.Body, dump.Options{})
	if err != nil {
		t.Fatalf("dump.Parse of the handler's answer: %v", err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Source.Backend != "agent" || s.Source.Pid != os.Getpid() {
		t.Errorf("source %+v, want backend agent and this pid", s.Source)
	}
	if n := countAt(s, "agent_test.go", line); n != 5 {
		t.Errorf("served snapshot has %d goroutines from agent_test.go:%d, the test started 5", n, line)
	}
	resp2, err := http.Post(srv.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", resp2.StatusCode)
	}
}

func TestHandlerServesRing(t *testing.T) {
	defer leaktest.Check(t, signalLoop)
	a, err := Start(Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	for range 3 {
		if _, err := a.Sample(); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	for _, path := range []string{"/debug/gorigin/ring", "/debug/gorigin?ring"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var d RingDoc
		err = json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d.Schema != RingSchema || len(d.Samples) != 3 || d.Samples[2].Total == 0 || len(d.Samples[2].Counts) == 0 {
			t.Errorf("%s: ring %+v, want 3 samples with counts", path, d)
		}
	}
}

// TestGrowthDetection samples by hand while a goroutine-per-sample leak grows next to a
// steady set: only the leak is reported, once, and only after Window samples.
func TestGrowthDetection(t *testing.T) {
	defer leaktest.Check(t, signalLoop)
	release := make(chan struct{})
	defer close(release)
	var mu sync.Mutex
	var reported []Growth
	a, err := Start(Options{Logger: quiet, Window: 4, Ring: 5, OnGrowth: func(g []Growth) {
		mu.Lock()
		reported = append(reported, g...)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	started := make(chan struct{})
	for range 4 {
		go blockStarted(started, release) // GO-STEADY
		<-started
	}
	leak, steady := markedLine(t, "agent_test.go", "// GO-LEAK"), markedLine(t, "agent_test.go", "// GO-STEADY")
	for i := range 7 {
		go blockStarted(started, release) // GO-LEAK
		<-started                         // counted by its start function from the first sample on
		grown, err := a.Sample()
		if err != nil {
			t.Fatal(err)
		}
		leaking := slices.ContainsFunc(grown, func(g Growth) bool { return keyAt(g.Key, "agent_test.go", leak) })
		if want := i == 3; leaking != want { // samples 0..3 are the first window of 4
			t.Errorf("sample %d: leak reported %v, want %v (%+v)", i, leaking, want, grown)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, g := range reported {
		if keyAt(g.Key, "agent_test.go", steady) {
			t.Errorf("the steady group was reported as growing: %+v", g)
		}
		if keyAt(g.Key, "agent_test.go", leak) && !slices.Equal(g.Counts, []int{1, 2, 3, 4}) {
			t.Errorf("leak counts %v, want [1 2 3 4]", g.Counts)
		}
	}
	if d := a.Ring(); len(d.Samples) != 5 || !slices.ContainsFunc(d.Growing, func(k string) bool { return keyAt(k, "agent_test.go", leak) }) {
		t.Errorf("ring: %d samples (want 5, the ring's size), growing %v (want the leak)", len(d.Samples), d.Growing)
	}
}

// TestPeriodicSamplingFlagsALeak lets the ticker sample while a goroutine leaks faster
// than the samples come.
func TestPeriodicSamplingFlagsALeak(t *testing.T) {
	defer leaktest.Check(t, signalLoop)
	release := make(chan struct{})
	defer close(release)
	got := make(chan []Growth, 16)
	a, err := Start(Options{Logger: quiet, Every: 30 * time.Millisecond, Window: 3, OnGrowth: func(g []Growth) { got <- g }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	started := make(chan struct{})
	for range 3 {
		go blockStarted(started, release) // GO-STEADY2
		<-started                         // a steady group must not seem to grow from its wrapper's key to its own
	}
	leak, steady := markedLine(t, "agent_test.go", "// GO-LEAK2"), markedLine(t, "agent_test.go", "// GO-STEADY2")
	stopLeak := make(chan struct{})
	leakDone := make(chan struct{})
	go func() {
		defer close(leakDone)
		tick := time.NewTicker(3 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopLeak:
				return
			case <-tick.C:
				go blockOn(release) // GO-LEAK2
			}
		}
	}()
	defer func() { close(stopLeak); <-leakDone }()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case gs := <-got:
			for _, g := range gs {
				if keyAt(g.Key, "agent_test.go", steady) {
					t.Fatalf("steady group reported: %+v", g)
				}
				if keyAt(g.Key, "agent_test.go", leak) {
					return
				}
			}
		case <-timeout:
			t.Fatalf("no growth reported for the leak at agent_test.go:%d in 10s; ring %+v", leak, a.Ring().Growing)
		}
	}
}

func TestRotationKeepsNewest(t *testing.T) {
	defer leaktest.Check(t, signalLoop)
	dir := t.TempDir()
	a, err := Start(Options{Dir: dir, Keep: 2, Logger: quiet, Signal: syscall.SIGUSR2})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	var written []string
	for range 4 {
		p, err := a.WriteSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		written = append(written, p)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if !slices.Equal(left, written[2:]) {
		t.Errorf("after 4 snapshots with Keep 2 the directory holds %v, want the newest two %v", left, written[2:])
	}
	for _, p := range left {
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = snapshot.Decode(fh)
		fh.Close()
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestStartRejects(t *testing.T) {
	for name, opt := range map[string]Options{
		"SIGTERM":        {Signal: syscall.SIGTERM},
		"window 2":       {Window: 2},
		"negative every": {Every: -time.Second},
		"dir is a file":  {Dir: "agent_test.go"},
	} {
		if a, err := Start(opt); err == nil {
			a.Stop()
			t.Errorf("%s: Start accepted %+v", name, opt)
		}
	}
}

// TestIdleCostIsOneGoroutine: an idle agent adds one goroutine, parked.
func TestIdleCostIsOneGoroutine(t *testing.T) {
	defer leaktest.Check(t, signalLoop)
	signalLoopStarted, err := Start(Options{Dir: t.TempDir(), Logger: quiet}) // starts os/signal's goroutine if not yet
	if err != nil {
		t.Fatal(err)
	}
	signalLoopStarted.Stop()
	time.Sleep(10 * time.Millisecond)
	before := runtime.NumGoroutine()
	a, err := Start(Options{Dir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	time.Sleep(10 * time.Millisecond)
	if d := runtime.NumGoroutine() - before; d != 1 {
		t.Errorf("a started agent adds %d goroutines, want 1", d)
	}
	s, err := Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range s.Goroutines {
		if g.Start != nil && strings.HasSuffix(g.Start.Func, "agent.(*Agent).run") && (g.Status != "waiting" || g.WaitReason != "select") {
			t.Errorf("the idle agent goroutine is %s/%s, want waiting in select", g.Status, g.WaitReason)
		}
	}
}
