package capture

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// stopsLate is a target whose threads never all stop in time, as on a machine too busy
// to schedule them: its Freeze fails as the native backend's does then.
type stopsLate struct{ dbg.Target }

func (stopsLate) Freeze() error {
	return fmt.Errorf("freeze: thread 1 did not stop in time: %w", dbg.ErrStopTimeout)
}

// TestStopTimeoutReadsRunning: when not every thread stops within the limit, Take still
// gives the snapshot, read from the running target as --freeze never reads it: marked
// "not frozen" (Freeze never, no freeze time) with a warning that says why, and not
// partial, since no goroutine is missing; the goroutines are the same as a frozen read's.
func TestStopTimeoutReadsRunning(t *testing.T) {
	proc := attachSelfTarget(t)
	frozen, err := Take(proc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	late, err := Take(stopsLate{proc}, Options{})
	if err != nil {
		t.Fatalf("a freeze whose threads did not stop in time: %v; want a snapshot of the running target", err)
	}
	if late.Source.Partial || late.Source.Freeze != FreezeNever || late.Source.FreezeMicros != 0 ||
		!strings.Contains(strings.Join(late.Warnings, "\n"), "did not stop in time") {
		t.Errorf("partial %v, freeze %q %dµs, warnings %q: want a snapshot read running (freeze never) that says a thread did not stop",
			late.Source.Partial, late.Source.Freeze, late.Source.FreezeMicros, late.Warnings)
	}
	// The runtime may start its own goroutines (GC workers) between the two reads: count
	// the program's.
	if a, b := userGoroutines(late), userGoroutines(frozen); a != b || a == 0 {
		t.Errorf("read running: %d of the program's goroutines, frozen: %d (an idle target)", a, b)
	}
}

func userGoroutines(s *snapshot.Snapshot) (n int) {
	for _, g := range s.Goroutines {
		if !g.System {
			n++
		}
	}
	return n
}
