package agent

import (
	"context"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorigin-dev/gorigin/integration/oracle"
	"github.com/gorigin-dev/gorigin/snapshot"
)

func parkLabelledA(ready *sync.WaitGroup, release chan struct{}) { ready.Done(); <-release }
func parkLabelledMixed(ready *sync.WaitGroup, release chan struct{}) {
	ready.Done()
	<-release
}
func parkUnlabelled(ready *sync.WaitGroup, release chan struct{}) { ready.Done(); <-release }

// startLabelled parks 3 goroutines labelled tenant=a in parkLabelledA, 2 in
// parkLabelledMixed (tenant=x and tenant=y: one stack, two label sets) and 2 unlabelled.
func startLabelled(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var ready sync.WaitGroup
	ready.Add(7)
	with := func(v string, f func()) {
		pprof.Do(context.Background(), pprof.Labels("tenant", v), func(context.Context) { f() })
	}
	with("a", func() {
		for range 3 {
			go parkLabelledA(&ready, release)
		}
	})
	for _, v := range []string{"x", "y"} {
		with(v, func() { go parkLabelledMixed(&ready, release) })
	}
	for range 2 {
		go parkUnlabelled(&ready, release)
	}
	ready.Wait()
	// Done is not parked: until both parkLabelledMixed goroutines wait in their receive,
	// their stacks differ and the profile tells them apart (seen: 1 run in 15).
	n, err := oracle.CountSelf(7, 1000, func(g *oracle.Goroutine) bool {
		return g.Status == "chan receive" && len(g.Frames) > 0 && strings.Contains(g.StartFunc(), ".park")
	})
	if err != nil || n != 7 {
		t.Fatalf("the runtime's dump shows %d of the 7 goroutines parked (%v)", n, err)
	}
}

// labelsByStart maps a start function's short name to the labels of its goroutines.
func labelsByStart(s *snapshot.Snapshot) map[string][]string {
	out := map[string][]string{}
	for _, g := range s.Goroutines {
		if g.Start == nil {
			continue
		}
		name := g.Start.Func[strings.LastIndex(g.Start.Func, ".")+1:]
		if strings.HasPrefix(name, "park") {
			out[name] = append(out[name], g.Labels["tenant"])
		}
	}
	return out
}

// TestSnapshotLabels: without GODEBUG=tracebacklabels=1 (Go 1.26's default) the
// traceback has no labels and the agent takes them from the goroutine profile where a
// stack has one label set (parkLabelledA), and leaves them out, with a warning, where one
// stack has two (parkLabelledMixed). With tracebacklabels=1 every goroutine has its own.
// The oracle is the labels the test set.
func TestSnapshotLabels(t *testing.T) {
	startLabelled(t)
	for _, tc := range []struct {
		godebug string
		want    map[string]string // start → labels of each goroutine, sorted, joined
		warn    bool
	}{
		{"tracebacklabels=0", map[string]string{"parkLabelledA": "a,a,a", "parkLabelledMixed": ",", "parkUnlabelled": ","}, true},
		{"tracebacklabels=1", map[string]string{"parkLabelledA": "a,a,a", "parkLabelledMixed": "x,y", "parkUnlabelled": ","}, false},
	} {
		t.Run(tc.godebug, func(t *testing.T) {
			t.Setenv("GODEBUG", tc.godebug) // the runtime rereads GODEBUG when it changes
			s, err := Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			got := labelsByStart(s)
			for start, want := range tc.want {
				vs := got[start]
				slices.Sort(vs)
				if strings.Join(vs, ",") != want {
					t.Errorf("%s: labels %q, want %q", start, vs, want)
				}
			}
			warned := false
			for _, w := range s.Warnings {
				warned = warned || strings.Contains(w, "could not be told apart")
			}
			if warned != tc.warn {
				t.Errorf("ambiguity warning %v, want %v: %q", warned, tc.warn, s.Warnings)
			}
		})
	}
}
