package integration

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/agent"
	"github.com/gorigin-dev/gorigin/snapshot"
)

func agentBlock(ch chan struct{}) { <-ch }

// agentMarkedLine is the line of agent_http_test.go that ends with marker.
func agentMarkedLine(t *testing.T, marker string) int {
	t.Helper()
	src, err := os.ReadFile("agent_http_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(src), "\n") {
		if strings.HasSuffix(l, marker) {
			return i + 1
		}
	}
	t.Fatalf("no line ends with %q", marker)
	return 0
}

// agentServer serves agent.Handler on a loopback mux, as a service would.
func agentServer(t *testing.T) string {
	mux := http.NewServeMux()
	mux.Handle("/debug/gorigin", agent.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/debug/gorigin"
}

// TestAgentHandlerGoriginDump: the real CLI, `gorigin dump URL`, reads the agent's
// handler, and its groups count the goroutines this test started at a marked go statement.
func TestAgentHandlerGoriginDump(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	for range 6 {
		go agentBlock(release) // AGENT-GO
	}
	line := agentMarkedLine(t, "// AGENT-GO")
	r := runGorigin(t, nil, "dump", agentServer(t), "--format", "json")
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	s, err := snapshot.Decode(strings.NewReader(string(r.Stdout)))
	if err != nil {
		t.Fatalf("%v: %v", r, err)
	}
	n := 0
	for _, g := range s.Goroutines {
		if g.Origin != nil && filepath.Base(g.Origin.File) == "agent_http_test.go" && g.Origin.Line == line {
			n++
		}
	}
	if n != 6 || s.Source.Backend != "agent" || s.Source.Pid != os.Getpid() {
		t.Errorf("gorigin dump of the agent: %d goroutines at agent_http_test.go:%d (want 6), source %+v", n, line, s.Source)
	}
}

// TestAgentHandlerGoriginWatch: `gorigin watch URL` on the agent's handler flags a
// goroutine-per-tick leak of this process (exit status 3) and not its steady goroutines.
func TestAgentHandlerGoriginWatch(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	for range 4 {
		go agentBlock(release) // AGENT-STEADY
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				go agentBlock(release) // AGENT-LEAK
			}
		}
	}()
	defer func() { close(stop); <-done }()
	leak, steady := agentMarkedLine(t, "// AGENT-LEAK"), agentMarkedLine(t, "// AGENT-STEADY")
	r := runGorigin(t, nil, "watch", agentServer(t), "--every", "300ms", "--samples", "4", "--format", "json")
	var w watchJSON
	if err := json.Unmarshal(r.Stdout, &w); err != nil {
		t.Fatalf("%v: %v\n%s", r, err, r.Stdout)
	}
	if r.Code != 3 {
		t.Errorf("watch exit status %d, want 3 (a group grew)\n%s", r.Code, r.Stdout)
	}
	var leakGrew, steadySeen bool
	for _, g := range w.Groups {
		if g.Origin == nil || filepath.Base(g.Origin.File) != "agent_http_test.go" {
			continue
		}
		switch g.Origin.Line {
		case leak:
			leakGrew = leakGrew || g.GrewEveryInterval
		case steady:
			steadySeen = true
			if g.GrewEveryInterval {
				t.Errorf("the steady group grew: %+v", g)
			}
		}
	}
	if !leakGrew || !steadySeen {
		t.Errorf("watch: leak at line %d grew %v (want true), steady group at line %d seen %v\n%s", leak, leakGrew, steady, steadySeen, r.Stdout)
	}
}
