package dump

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// parkOn is the goroutine of TestUnstartedJoinsSiblings: it says it runs, then waits.
func parkOn(ready chan<- int, release <-chan struct{}, i int) {
	ready <- i
	<-release
}

// spawnAndDump runs one go statement (with arguments, so the compiler wraps it in
// spawnAndDump.gowrapN) four times: three goroutines run and park, the fourth is made
// and, with GOMAXPROCS 1, cannot run before the runtime's own traceback is taken.
func spawnAndDump() []byte {
	ready := make(chan int, 4)
	release := make(chan struct{})
	defer close(release)
	for i := range 4 {
		if i == 3 {
			for range 3 {
				<-ready
			}
		}
		go parkOn(ready, release, i) // the go statement
	}
	buf := make([]byte, 1<<20)
	return buf[:runtime.Stack(buf, true)]
}

// TestUnstartedJoinsSiblings: a goroutine that has not run yet shows only its go
// statement's wrapper in the runtime's traceback; the parser gives it the start function
// of its siblings (dump.parkOn, what a live read shows), so all four are one group by
// origin.
func TestUnstartedJoinsSiblings(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var text []byte
	for try := 0; try < 5; try++ {
		text = spawnAndDump()
		if bytes.Contains(text, []byte("spawnAndDump.gowrap")) {
			break
		}
		text = nil // the fourth goroutine was scheduled after all (a preemption): again
	}
	if text == nil {
		t.Skip("the fourth goroutine always ran before the traceback: no unstarted goroutine to check")
	}
	s, err := Parse(bytes.NewReader(text), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ours []snapshot.Goroutine
	for _, g := range s.Goroutines {
		if g.Origin != nil && strings.HasSuffix(g.Origin.Func, "dump.spawnAndDump") {
			ours = append(ours, g)
		}
	}
	if len(ours) != 4 {
		t.Fatalf("%d goroutines created by spawnAndDump, want 4:\n%s", len(ours), text)
	}
	unstarted := 0
	for _, g := range ours {
		if isGoWrapper(g.Frames[0].Func) {
			unstarted++
		}
		if g.Start == nil || !strings.HasSuffix(g.Start.Func, "dump.parkOn") {
			t.Errorf("goroutine %d (frames %v): start %v, want dump.parkOn", g.ID, g.Frames, g.Start)
		}
	}
	if unstarted != 1 {
		t.Errorf("%d goroutines show only the wrapper, want 1", unstarted)
	}
	groups := snapshot.GroupBy(ours, snapshot.Key{})
	if len(groups) != 1 {
		t.Errorf("%d groups by origin, want 1: %v", len(groups), groups)
	}
}
