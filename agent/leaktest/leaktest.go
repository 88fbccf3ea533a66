// Package leaktest fails a test that leaves goroutines behind:
//
//	func TestServe(t *testing.T) {
//		defer leaktest.Check(t)
//		...
//	}
//
// Unlike a check that compares every goroutine of the process, it blames only the
// goroutines this test started: those whose chain of creators (the "created by … in
// goroutine N" of the runtime's traceback, Go 1.21 and later) leads to the test's own
// goroutine. So it works in t.Parallel tests, where other tests' goroutines are alive at
// the same time. The leaks are reported grouped by the go statement that created them.
//
// Limits: a goroutine whose creator has already exited cannot be traced further (the
// runtime keeps only the direct parent id), so a leak started by a short-lived helper
// goroutine of the test is not blamed. Subtests (testing.tRunner goroutines) are left to
// their own Check. It is not a profiler: it reads runtime.Stack, a stop-the-world call.
package leaktest

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorigin-dev/gorigin/dump"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// TB is the part of testing.TB that Check uses.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// Option changes what Check does.
type Option func(*config)

type config struct {
	grace  time.Duration
	ignore []string
}

// Grace is how long Check waits for the test's goroutines to exit before it fails the
// test; default 2s. Check returns as soon as none are left.
func Grace(d time.Duration) Option { return func(c *config) { c.grace = d } }

// IgnoreOrigin ignores goroutines whose go statement or start function contains s
// (e.g. "net/http.(*persistConn)").
func IgnoreOrigin(s string) Option { return func(c *config) { c.ignore = append(c.ignore, s) } }

// Check fails t when goroutines started by the calling goroutine (the test's), directly
// or through descendants that are still alive, are still running once the grace period
// has passed. Call it on the test's goroutine, usually as `defer leaktest.Check(t)`.
func Check(t TB, opts ...Option) {
	t.Helper()
	c := config{grace: 2 * time.Second}
	for _, o := range opts {
		o(&c)
	}
	self, err := goroutineID()
	if err != nil {
		t.Errorf("leaktest: %v", err)
		return
	}
	deadline := time.Now().Add(c.grace)
	wait := time.Millisecond
	for {
		leaked, err := Leaked(self, c.ignore)
		if err != nil {
			t.Errorf("leaktest: %v", err)
			return
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s", Report(leaked))
			return
		}
		time.Sleep(wait)
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// Leaked returns the goroutines alive now that descend from goroutine root, not counting
// subtests (testing.tRunner) and their descendants, nor those whose origin or start
// function contains one of ignore.
func Leaked(root int64, ignore []string) ([]snapshot.Goroutine, error) {
	s, err := dump.Parse(bytes.NewReader(allStacks()), dump.Options{})
	if err != nil {
		return nil, fmt.Errorf("read this process's goroutines: %w", err)
	}
	parent := make(map[int64]int64, len(s.Goroutines))
	cut := map[int64]bool{} // subtests: their goroutines are theirs to check
	for _, g := range s.Goroutines {
		parent[g.ID] = g.ParentID
		if g.Start != nil && g.Start.Func == "testing.tRunner" {
			cut[g.ID] = true
		}
	}
	descends := func(id int64) bool {
		for steps := 0; steps <= len(parent); steps++ { // bounded: ids could form a cycle after reuse
			p, ok := parent[id]
			if !ok || p == 0 || cut[id] {
				return false
			}
			if p == root {
				return true
			}
			id = p
		}
		return false
	}
	var out []snapshot.Goroutine
	for _, g := range s.Goroutines {
		if g.ID == root || g.System || !descends(g.ID) || ignored(&g, ignore) {
			continue
		}
		out = append(out, g)
	}
	return out, nil
}

func ignored(g *snapshot.Goroutine, ignore []string) bool {
	for _, s := range ignore {
		if (g.Origin != nil && strings.Contains(g.Origin.String(), s)) || (g.Start != nil && strings.Contains(g.Start.Func, s)) {
			return true
		}
	}
	return false
}

// Report describes leaked goroutines grouped by the go statement that created them.
func Report(leaked []snapshot.Goroutine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "leaktest: %d goroutine(s) started by this test are still running:\n", len(leaked))
	leaked = slices.Clone(leaked)
	for _, g := range snapshot.GroupBy(leaked, snapshot.Key{Kind: "origin"}) {
		states := make([]string, len(g.States))
		for i, s := range g.States {
			states[i] = fmt.Sprintf("%d %s", s.Count, s)
		}
		fmt.Fprintf(&b, "  %d × go statement %s\n      state: %s; ids %v\n", g.Count, g.Key, strings.Join(states, ", "), g.Examples)
		if g.Location != nil {
			fmt.Fprintf(&b, "      at %s\n", g.Location)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// goroutineID is the calling goroutine's id, from its own traceback header
// ("goroutine 42 [running]:").
func goroutineID() (int64, error) {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	f := strings.Fields(string(buf[:n]))
	if len(f) < 2 || f[0] != "goroutine" {
		return 0, fmt.Errorf("cannot read this goroutine's id from %q", buf[:n])
	}
	id, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cannot read this goroutine's id from %q: %w", buf[:n], err)
	}
	return id, nil
}

func allStacks() []byte {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) || len(buf) >= 1<<30 {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}
