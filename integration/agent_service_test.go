package integration

// The agent inside a separate service (integration/testdata/agentservice), not inside
// the test binary: SIGUSR1 under loopback load writes a snapshot that matches the
// process's own debug=2 dump with no failed request; the agent's growth detector and
// `gorigin watch` flag the leaking mode and stay silent on the steady one.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/agent"
	"github.com/gorigin-dev/gorigin/integration/oracle"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// agentService is a running agentservice.
type agentService struct{ *fixture }

// agentServiceDir is the fixture's source directory.
func agentServiceDir(t testing.TB) string {
	dir, err := filepath.Abs("testdata/agentservice")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// serviceLines maps the names of agentservice's marked go statements ("//
// AGENTSERVICE name …") to their lines: the oracle for origins, read from the source.
func serviceLines(t testing.TB) map[string]int {
	src, err := os.ReadFile(filepath.Join(agentServiceDir(t), "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]int{}
	for i, l := range strings.Split(string(src), "\n") {
		if _, m, ok := strings.Cut(l, "// AGENTSERVICE "); ok && strings.HasPrefix(strings.TrimSpace(l), "go ") {
			lines[strings.Fields(m)[0]] = i + 1
		}
	}
	return lines
}

// startAgentService builds and starts agentservice with args. -godebug
// tracebacklabels=0 keeps labels out of runtime.Stack on every Go version (startFixture
// turns them on for the other fixtures), so the agent must take them from the goroutine
// profile.
func startAgentService(t *testing.T, args ...string) *agentService {
	t.Helper()
	needGorigin(t)
	bin := programBinary(t, agentServiceDir(t), hostVariant(t))
	return &agentService{startFixture(t, bin, append(args, "-godebug", "tracebacklabels=0")...)}
}

// growth is what the service's agent reported as growing so far: its "growth FILE:LINE"
// lines on stderr.
func (s *agentService) growth() []string {
	var out []string
	for _, l := range strings.Split(s.stderr.String(), "\n") {
		if g, ok := strings.CutPrefix(l, "growth "); ok {
			out = append(out, g)
		}
	}
	return out
}

// load puts loopback load on the service's /work until stop is called: clients
// concurrent clients on kept-alive connections. stop returns the requests served and
// the failures (a transport error or a status other than 200).
func (s *agentService) load(clients int) (stop func() (ok, failed int64)) {
	var served, failed atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			defer c.CloseIdleConnections()
			for {
				select {
				case <-done:
					return
				default:
				}
				resp, err := c.Get("http://" + s.Addr + "/work")
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				} else {
					served.Add(1)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	return func() (int64, int64) {
		close(done)
		wg.Wait()
		return served.Load(), failed.Load()
	}
}

// TestAgentServiceSignal: under loopback load, SIGUSR1 makes the service's agent write a
// snapshot file; every request succeeds meanwhile. The file's goroutines of the fixed
// pools (ids, states, origins) equal those of the process's own debug=2 dump, and the
// labelled pool has its labels (taken from the goroutine profile, as runtime.Stack shows
// none here).
func TestAgentServiceSignal(t *testing.T) {
	dir := t.TempDir()
	s := startAgentService(t, "-mode", "steady", "-dir", dir)
	lines := serviceLines(t)
	stop := s.load(4)
	time.Sleep(300 * time.Millisecond)
	if err := syscall.Kill(s.Pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	var file string
	for deadline := time.Now().Add(20 * time.Second); file == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		m, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("gorigin-%d-*.json", s.Pid)))
		if len(m) > 0 {
			file = m[0]
		}
	}
	time.Sleep(200 * time.Millisecond) // load goes on after the snapshot
	served, failed := stop()
	if file == "" {
		t.Fatalf("no snapshot file in %s after SIGUSR1\nstderr:\n%s", dir, s.stderr)
	}
	if failed != 0 || served < 10 {
		t.Errorf("%d requests served, %d failed: want none failed (and some load)", served, failed)
	}
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	snap, err := snapshot.Decode(fh)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if snap.Source.Pid != s.Pid || snap.Source.Backend != "agent" {
		t.Errorf("snapshot source %+v, want the service's pid %d and backend agent", snap.Source, s.Pid)
	}

	resp, err := http.Get("http://" + s.Addr + "/debug/pprof/goroutine?debug=2")
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	own, err := oracle.ParseBytes(text)
	if err != nil {
		t.Fatal(err)
	}
	ownByID := map[int64]oracle.Goroutine{}
	for _, g := range own {
		ownByID[g.ID] = g
	}
	isService := func(file string) bool {
		return filepath.Base(file) == "main.go" && strings.Contains(file, "agentservice")
	}

	// Per go statement: the fixed pools have the same goroutines (ids) in both.
	for _, name := range []string{"pool", "tenant"} {
		line := lines[name]
		var inFile, inOwn []int64
		for _, g := range snap.Goroutines {
			if g.Origin != nil && isService(g.Origin.File) && g.Origin.Line == line {
				inFile = append(inFile, g.ID)
				want := ""
				if name == "tenant" {
					want = "a"
				}
				if g.Labels["tenant"] != want || (want == "" && len(g.Labels) > 0) {
					t.Errorf("%s goroutine %d: labels %v, want tenant=%q", name, g.ID, g.Labels, want)
				}
			}
		}
		for _, g := range own {
			if g.CreatedBy != nil && isService(g.CreatedBy.File) && g.CreatedBy.Line == line {
				inOwn = append(inOwn, g.ID)
			}
		}
		want := map[string]int{"pool": 5, "tenant": 3}[name]
		if len(inFile) != want || fmt.Sprint(sorted(inFile)) != fmt.Sprint(sorted(inOwn)) {
			t.Errorf("go statement %s (main.go:%d): ids %v in the agent's file, %v in the debug=2 dump, want %d", name, line, inFile, inOwn, want)
		}
	}
	// Every goroutine of the file still alive in the dump agrees on origin, and the parked
	// ones (pools, leaked) on state too: the accept loop and request workers change state
	// under the load between the two looks.
	parked := map[int]bool{lines["pool"]: true, lines["tenant"]: true, lines["leak"]: true}
	compared := 0
	for _, g := range snap.Goroutines {
		o, ok := ownByID[g.ID]
		if !ok || g.Origin == nil || o.CreatedBy == nil || !isService(g.Origin.File) {
			continue
		}
		compared++
		stateDiffers := parked[g.Origin.Line] && snapshot.StateText(g.Status, g.WaitReason) != o.Status
		if g.Origin.Line != o.CreatedBy.Line || stateDiffers {
			t.Errorf("goroutine %d: file says %s:%d %s, the dump %s:%d %s", g.ID, g.Origin.File, g.Origin.Line,
				snapshot.StateText(g.Status, g.WaitReason), o.CreatedBy.File, o.CreatedBy.Line, o.Status)
		}
	}
	if compared < 8 {
		t.Errorf("only %d goroutines compared", compared)
	}
}

func sorted(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// TestAgentServiceGrowth: under the same loopback load, the agent's sampler (every
// 250ms; a window of 4 samples, as two clients cannot make the steady requests' group
// rise three times in a row) reports the leaking go statement of mode leak and nothing in
// mode steady; `gorigin watch` on the agent's handler, run during the load, agrees (exit
// status 3 with the leak first; 0).
func TestAgentServiceGrowth(t *testing.T) {
	lines := serviceLines(t)
	for _, mode := range []string{"leak", "steady"} {
		t.Run(mode, func(t *testing.T) {
			s := startAgentService(t, "-mode", mode, "-every", "250ms", "-window", "4")
			stop := s.load(2)
			w := runGorigin(t, nil, "watch", "http://"+s.Addr+"/debug/gorigin", "--every", "400ms", "--samples", "4", "--format", "json")
			time.Sleep(300 * time.Millisecond)
			served, failed := stop()
			if failed != 0 || served < 10 {
				t.Errorf("%d requests served, %d failed: want none failed", served, failed)
			}
			var ring agent.RingDoc
			resp, err := http.Get("http://" + s.Addr + "/debug/gorigin/ring")
			if err != nil {
				t.Fatal(err)
			}
			err = json.NewDecoder(resp.Body).Decode(&ring)
			resp.Body.Close()
			if err != nil || len(ring.Samples) < 5 {
				t.Fatalf("ring: %v, %d samples: want at least 5 (the detector's window and more)", err, len(ring.Samples))
			}
			growth := s.growth()
			leakAt := regexp.MustCompile(fmt.Sprintf(`agentservice/main\.go:%d$`, lines["leak"]))
			var wj watchJSON
			if err := json.Unmarshal(w.Stdout, &wj); err != nil {
				t.Fatalf("%v: %v", w, err)
			}
			switch mode {
			case "leak":
				if len(growth) == 0 || !leakAt.MatchString(growth[0]) {
					t.Errorf("the agent reported growth %q, want the leak at main.go:%d", growth, lines["leak"])
				}
				if w.Code != 3 || len(wj.Groups) == 0 || wj.Groups[0].Origin == nil || wj.Groups[0].Origin.Line != lines["leak"] {
					t.Errorf("watch: exit %d, want 3 with the leak at main.go:%d first\n%s", w.Code, lines["leak"], w.Stdout)
				}
			case "steady":
				if len(growth) != 0 {
					t.Errorf("the agent reported growth %q in steady mode", growth)
				}
				if w.Code != 0 || len(wj.Growing) != 0 {
					t.Errorf("watch: exit %d, growing %q; want 0 and none\n%s", w.Code, wj.Growing, w.Stdout)
				}
			}
		})
	}
}
