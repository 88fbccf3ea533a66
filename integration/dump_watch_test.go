package integration

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// watchJSON is the part of "gorigin watch --format json" the tests read.
type watchJSON struct {
	Totals []int `json:"totals"`
	Groups []struct {
		Key               string `json:"key"`
		Counts            []int  `json:"counts"`
		GrewEveryInterval bool   `json:"grewEveryInterval"`
		Origin            *struct {
			File string `json:"file"`
			Line int    `json:"line"`
		} `json:"origin"`
	} `json:"groups"`
	Growing []string `json:"growing"`
}

// TestWatchVerdict watches the leaky server twice through its profile endpoint: under
// loopback load the leaking go statement grows in every interval (exit status 3, first
// in the table); idle, nothing grows (exit status 0).
func TestWatchVerdict(t *testing.T) {
	addr, _ := startLeaky(t)
	url := "http://" + addr + "/debug/pprof/goroutine"
	watch := func() (*goriginRun, watchJSON) {
		r := runGorigin(t, nil, "watch", url, "--every", "500ms", "--samples", "4", "--format", "json")
		var w watchJSON
		if err := json.Unmarshal(r.Stdout, &w); err != nil {
			t.Fatalf("%v: %v\n%s", r, err, r.Stdout)
		}
		return r, w
	}

	r, w := watch()
	if r.Code != 0 || len(w.Growing) != 0 {
		t.Errorf("idle: exit %d, growing %q; want 0 and none\n%s", r.Code, w.Growing, r.Stdout)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // one request every 50ms: a leaked goroutine each
		defer wg.Done()
		client := &http.Client{Timeout: 5 * time.Second}
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if resp, err := client.Get("http://" + addr + "/leak"); err == nil {
				resp.Body.Close()
			}
		}
	}()
	r, w = watch()
	close(stop)
	wg.Wait()
	if r.Code != 3 {
		t.Errorf("under load: exit status %d, want 3\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if len(w.Groups) == 0 || w.Groups[0].Origin == nil || w.Groups[0].Origin.Line != leakLine ||
		!strings.HasSuffix(w.Groups[0].Origin.File, "/main.go") || !w.Groups[0].GrewEveryInterval {
		t.Errorf("under load: the first group is not the leak at main.go:%d:\n%s", leakLine, r.Stdout)
	}
	for _, g := range w.Groups[1:] {
		if g.GrewEveryInterval && g.Origin != nil && strings.HasSuffix(g.Origin.File, "/main.go") {
			t.Errorf("another group of the program grew every time: %+v", g)
		}
	}
	if c := w.Groups[0].Counts; len(c) != 4 || c[3]-c[0] < 5 {
		t.Errorf("leak counts %v: want 4 samples growing by several goroutines", c)
	}

	// The text form says the verdict.
	rt := runGorigin(t, nil, "watch", url, "--every", "200ms", "--samples", "3")
	if rt.Code != 0 || !strings.Contains(string(rt.Stdout), "verdict: no group grew") {
		t.Errorf("idle text watch: exit %d\n%s", rt.Code, rt.Stdout)
	}
	if r := runGorigin(t, nil, "watch", url, "--samples", "2"); r.Code != 2 || !strings.Contains(string(r.Stderr), "at least 3") {
		t.Errorf("watch --samples 2: exit %d, want 2 and a reason\n%s", r.Code, r.Stderr)
	}
}
