package dump

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/gorigin-dev/gorigin/integration/oracle"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestMatchesOracle reads the runtime's own debug=2 dumps of the integration fixture,
// written by Go 1.20 to 1.27, with both this package and the strict test oracle, and
// requires the same goroutines: ids, states, wait minutes, creators, parents, start
// functions, labels, locked threads and frames.
func TestMatchesOracle(t *testing.T) {
	files, err := filepath.Glob("../integration/oracle/testdata/debug2-*.txt")
	if err != nil || len(files) < 5 {
		t.Fatalf("want the oracle's debug2 samples (Go 1.20 to 1.27), found %q (%v)", files, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			text, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			orc, err := oracle.ParseBytes(text)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Parse(bytesReader(text), Options{})
			if err != nil {
				t.Fatal(err)
			}
			compareOracle(t, orc, s)
		})
	}
}

// compareOracle requires s to hold exactly the goroutines the oracle read.
func compareOracle(t *testing.T, orc []oracle.Goroutine, s *snapshot.Snapshot) {
	t.Helper()
	if len(s.Goroutines) != len(orc) || len(orc) == 0 {
		t.Fatalf("%d goroutines, the oracle reads %d", len(s.Goroutines), len(orc))
	}
	for i, o := range orc {
		g := s.Goroutines[i]
		if got, want := describe(g), describeOracle(o); got != want {
			t.Errorf("goroutine #%d:\n got %s\nwant %s", i, got, want)
		}
		if !maps.Equal(g.Labels, o.Labels) {
			t.Errorf("goroutine %d: labels %v, want %v", o.ID, g.Labels, o.Labels)
		}
		frames := o.Frames
		if n := len(frames); n > 0 && frames[n-1].Func == "runtime.goexit" {
			frames = frames[:n-1]
		}
		if len(g.Frames) != len(frames) {
			t.Errorf("goroutine %d: %d frames, want %d", o.ID, len(g.Frames), len(frames))
			continue
		}
		for j, f := range frames {
			gf := g.Frames[j]
			if gf.Func != f.Func || gf.File != f.File || gf.Line != f.Line || gf.Inlined != f.Inlined {
				t.Errorf("goroutine %d frame %d: %+v, want %+v", o.ID, j, gf, f)
			}
		}
	}
}

func describe(g snapshot.Goroutine) string {
	origin, start := "-", "-"
	if g.Origin != nil {
		origin = g.Origin.String()
	}
	if g.Start != nil {
		start = g.Start.Func
	}
	state := snapshot.StateText(g.Status, g.WaitReason)
	if g.Status == "leaked" {
		state = "leaked"
	}
	return fmt.Sprintf("id=%d state=%q wait=%v locked=%v created=%s parent=%d start=%s",
		g.ID, state, g.WaitSeconds, g.LockedToThread, origin, g.ParentID, start)
}

func describeOracle(o oracle.Goroutine) string {
	origin, start := "-", "-"
	if o.CreatedBy != nil {
		origin = fmt.Sprintf("%s %s:%d", o.CreatedBy.Func, o.CreatedBy.File, o.CreatedBy.Line)
	}
	frames := o.Frames // the start is the bottom frame above runtime.goexit
	if n := len(frames); n > 0 && frames[n-1].Func == "runtime.goexit" {
		frames = frames[:n-1]
	}
	if n := len(frames); n > 0 && !o.Truncated {
		start = frames[n-1].Func
	}
	if o.ID == 1 && start == "main.main" {
		start = "runtime.main" // the main goroutine's start, hidden in tracebacks
	}
	state := o.Status
	if o.Leaked {
		state = "leaked"
	}
	wait := float64(o.WaitMinutes * 60)
	return fmt.Sprintf("id=%d state=%q wait=%v locked=%v created=%s parent=%d start=%s",
		o.ID, state, wait, o.LockedToThread, origin, o.ParentID, start)
}
