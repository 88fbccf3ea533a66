package series

import (
	"strconv"
	"time"
)

// State is what is known of one process after its last snapshot: that snapshot's series
// when it succeeded, and the per-process figures.
type State struct {
	Pid int
	Exe string // bounded with Label
	// Last is the last snapshot's series; nil when the last snapshot failed (its groups
	// are then not exported, rather than exported stale) or none was taken yet.
	Last *Target
	// Duration is how long the last snapshot took, failed or not.
	Duration time.Duration
	// TakenAt is when the last successful snapshot was taken; zero if none was.
	TakenAt time.Time
	// Errors counts the failed snapshots.
	Errors uint64
}

// Samples calls yield with every sample of s: its family, label values in the order of
// the family's Labels, and value, families in the order of Families.
func (s *State) Samples(yield func(m Metric, labels []string, v float64)) {
	pid := strconv.Itoa(s.Pid)
	if s.Last != nil {
		for _, g := range s.Last.Groups {
			yield(Goroutines, []string{pid, s.Exe, g.Origin, g.Start, g.State}, float64(g.Count))
		}
		for _, g := range s.Last.Groups {
			if g.OldestWait > 0 {
				yield(OldestWait, []string{pid, s.Exe, g.Origin, g.Start, g.State}, g.OldestWait)
			}
		}
		yield(TargetGoroutines, []string{pid, s.Exe}, float64(s.Last.Total))
	}
	yield(SnapshotDuration, []string{pid, s.Exe}, s.Duration.Seconds())
	if s.Last != nil {
		yield(SnapshotFreeze, []string{pid, s.Exe}, s.Last.FreezeSeconds)
	}
	if !s.TakenAt.IsZero() {
		yield(SnapshotTimestamp, []string{pid, s.Exe}, float64(s.TakenAt.UnixNano())/1e9)
	}
	yield(SnapshotErrors, []string{pid, s.Exe}, float64(s.Errors))
}
