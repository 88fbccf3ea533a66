package agent

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/agent/leaktest"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// getAll sends n concurrent GETs to url, all released at once, and reads every body.
func getAll(t *testing.T, client *http.Client, url string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			<-start
			resp, err := client.Get(url)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				errs <- err
			} else if resp.StatusCode != http.StatusOK {
				errs <- &statusError{resp.StatusCode}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }

// TestHandlerConcurrentGETsTakeOneSnapshot: 64 concurrent GETs of a handler whose last
// snapshot is never too old cost exactly one snapshot (the in-flight one is shared, later
// ones get it from the cache) and about one snapshot's allocations, where before each GET
// took its own (64 pauses, 64 snapshots' memory). The oracle for the cost of one is a
// single GET on a fresh handler in the same process, measured just before.
func TestHandlerConcurrentGETsTakeOneSnapshot(t *testing.T) {
	defer leaktest.Check(t, signalLoop)
	release := make(chan struct{})
	defer close(release)
	for range 5000 {
		go blockOn(release)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()

	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	one := httptest.NewServer(newHandler(nil, time.Hour))
	defer one.Close()
	oneCost := allocated(func() { getAll(t, client, one.URL, 1) })

	srv := httptest.NewServer(newHandler(nil, time.Hour))
	defer srv.Close()
	n0 := snapshotsTaken.Load()
	var inuseBefore, inuseAfter runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&inuseBefore)
	manyCost := allocated(func() { getAll(t, client, srv.URL, 64) })
	runtime.ReadMemStats(&inuseAfter)
	if n := snapshotsTaken.Load() - n0; n != 1 {
		t.Errorf("64 concurrent GETs took %d snapshots, want 1", n)
	}
	// 64 requests add connections, goroutines and response writers (small) to one
	// snapshot; 64 snapshots would be 64 times oneCost. Allocation is an upper bound of
	// heap growth that does not depend on when the collector runs.
	t.Logf("one GET allocated %d KB; 64 concurrent GETs %d KB; HeapInuse %d -> %d KB",
		oneCost>>10, manyCost>>10, inuseBefore.HeapInuse>>10, inuseAfter.HeapInuse>>10)
	if manyCost > 4*oneCost {
		t.Errorf("64 concurrent GETs allocated %d KB, more than 4 times one GET's %d KB", manyCost>>10, oneCost>>10)
	}
	if grew := int64(inuseAfter.HeapInuse) - int64(inuseBefore.HeapInuse); grew > 4*int64(oneCost) {
		t.Errorf("HeapInuse grew by %d KB over 64 concurrent GETs, more than 4 times one GET's allocation (%d KB)", grew>>10, oneCost>>10)
	}
}

// TestHandlerServesFreshAfterInterval: a GET right after another waits for the interval
// and gets a new snapshot (a later TakenAt), taken no sooner than the interval after the
// last one ended: never the last one again, which would hide growth from gorigin watch.
func TestHandlerServesFreshAfterInterval(t *testing.T) {
	const interval = 200 * time.Millisecond
	h := newHandler(nil, interval)
	srv := httptest.NewServer(h)
	defer srv.Close()
	takenAt := func() time.Time {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		s, err := snapshot.Decode(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return s.Source.TakenAt
	}
	first := takenAt()
	h.mu.Lock()
	lastDone := h.lastDone
	h.mu.Unlock()
	again := takenAt()
	if !again.After(first) {
		t.Errorf("a GET right after another got the same snapshot (%v, first %v)", again, first)
	}
	if again.Before(lastDone.Add(interval)) {
		t.Errorf("a new snapshot at %v, sooner than the interval (%v) after the last one ended (%v)", again, interval, lastDone)
	}
}

func TestStartRejectsNegativeMinInterval(t *testing.T) {
	if a, err := Start(Options{Logger: quiet, MinInterval: -time.Second}); err == nil {
		a.Stop()
		t.Fatal("Start accepted a negative MinInterval")
	}
}
