package source

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/native"
	"github.com/gorigin-dev/gorigin/leaks"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// AttachLeaks snapshots a live process with the native backend and proves its leaks in one freeze: the
// goroutines' states and the verdicts come from the same moment. The freeze copies what
// the marking reads; the marking runs on the copy after the thaw (or, when the copy does
// not fit in gorigin's memory, while frozen: a warning says so).
// The snapshot's goroutines carry their verdicts (Leak).
func AttachLeaks(ctx context.Context, pid int, o Options) (*snapshot.Snapshot, *leaks.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	maxFreeze := o.maxFreeze()
	image := processImage(pid)
	proc, err := native.Attach(pid, native.Options{MaxFreeze: maxFreeze})
	if why := vanished(pid, image); err != nil && why != "" && !errors.Is(err, dbg.ErrExited) {
		return nil, nil, dbg.Errorf(dbg.ErrExited, "pid %d %s while gorigin attached (%v)", pid, why, err)
	}
	if err != nil {
		return nil, nil, err
	}
	defer proc.Close()
	phase := capture.Tracer("leaks")
	s, err := leaks.Begin(proc, leaks.Options{Progress: o.Progress, MaxFreeze: maxFreeze, DebugFile: o.DebugFile})
	if err != nil {
		return nil, nil, leakError(pid, err)
	}
	defer s.Close()
	phase("planned (%s)", s.Mode())
	snap, err := capture.TakeContext(ctx, s, capture.Options{Freeze: capture.FreezeAlways, Stacks: o.Stacks, Backend: "native", Progress: o.Progress, DebugFile: o.DebugFile, HoldFreeze: o.HoldFreeze})
	if err != nil {
		if why := vanished(pid, image); why != "" && !errors.Is(err, dbg.ErrExited) {
			return nil, nil, dbg.Errorf(dbg.ErrExited, "pid %d %s while gorigin was reading it (%v): run gorigin again", pid, why, err)
		}
		return nil, nil, leakError(pid, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err // the caller left: do not mark the copy
	}
	res, err := s.Finish()
	if err != nil {
		return nil, nil, leakError(pid, err)
	}
	phase("%s", LeakSummary(res, true))
	if proc.Expired() {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the target stayed frozen past --max-freeze %v and was released before the copy was complete: no goroutine is called leaked", maxFreeze))
		for id, v := range res.Verdicts {
			if v.Leak == leaks.Leaked {
				v.Leak, v.Why = leaks.Unknown, "the copy was cut short by --max-freeze"
				res.Verdicts[id] = v
			}
		}
	}
	ApplyLeaks(snap, res)
	return snap, res, proc.Close()
}

// leakError says which process the analysis failed on.
func leakError(pid int, err error) error {
	return fmt.Errorf("pid %d: leak analysis: %w", pid, err)
}

// CoreLeaks proves the leaks of a core: the verdicts of its goroutines.
func CoreLeaks(ctx context.Context, path, exe string, o Options) (*leaks.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := OpenCore(path, exe)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	res, err := analyze(ctx, c, o)
	if err != nil {
		return nil, fmt.Errorf("core %s: leak analysis: %w", path, err)
	}
	return res, nil
}

func analyze(ctx context.Context, t dbg.Target, o Options) (*leaks.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	phase := capture.Tracer("leaks")
	res, err := leaks.Analyze(t, leaks.Options{Progress: o.Progress, DebugFile: o.DebugFile})
	if err != nil {
		return nil, err
	}
	phase("%s", LeakSummary(res, false))
	return res, nil
}

// ApplyLeaks sets each goroutine's Leak from the analysis, by id; a goroutine the analysis
// did not see (none, when both read the same freeze or core) is unknown.
func ApplyLeaks(snap *snapshot.Snapshot, res *leaks.Result) {
	snap.Leaks = leakReport(snap, res, snap.Source.Kind == "live")
	for i := range snap.Goroutines {
		g := &snap.Goroutines[i]
		if v, ok := res.Verdicts[g.ID]; ok {
			g.Leak = v.Leak
		} else {
			g.Leak = leaks.Unknown
		}
	}
	snap.Warnings = append(snap.Warnings, res.Warnings...)
}

// LeakSummary is the one line that sums up an analysis; live adds how long the target
// was frozen.
func LeakSummary(res *leaks.Result, live bool) string {
	s := res.Stats
	out := fmt.Sprintf("leaks: %d leaked, %d live, %d unknown of %d goroutines; heap %d MB in %d objects (%d spans), %d marked, %d MB scanned in %d rounds",
		s.Leaked, s.LiveCount, s.NotSure, s.Goroutines, s.HeapBytes>>20, s.Objects, s.Spans, s.Marked, s.ScannedBytes>>20, s.Rounds)
	if heap := s.PreciseBytes + s.ConservativeBytes; heap > 0 {
		out += fmt.Sprintf(" (heap objects: %d KB with the runtime's pointer maps, %d KB conservatively)", s.PreciseBytes>>10, s.ConservativeBytes>>10)
	}
	switch {
	case !live:
	case s.Mode == leaks.ModeCopy:
		out += fmt.Sprintf("; frozen %v to copy %d MB", s.Freeze.Round(time.Millisecond), s.Copied>>20)
		switch s.Recopy {
		case leaks.RecopySoftDirty:
			out += fmt.Sprintf(" (%d MB of it read again, frozen: the pages written since the copy made while it ran)", s.Recopied>>20)
		case leaks.RecopyFull:
			out += fmt.Sprintf(" (all of it read again, frozen: %s)", s.RecopyWhy)
		}
		out += ", marked after the thaw"
	default:
		out += fmt.Sprintf("; frozen %v, marked while frozen", s.Freeze.Round(time.Millisecond))
	}
	return out
}
