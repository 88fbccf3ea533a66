package series

// Metric is one metric family gorigin exports: its name, help text and type, the same
// from the host exporter, the agent's collector and the agent's plain handler.
type Metric struct {
	Name, Help string
	Counter    bool // else a gauge
	// Group is true for the families with one series per group (labels pid, exe, origin,
	// start, state); the others have one per target (pid, exe).
	Group bool
}

// The families, in the order they are written.
var (
	Goroutines = Metric{Name: "gorigin_goroutines", Group: true,
		Help: "Goroutines of the process by the go statement that created them (origin, path:line), their start function and state (wait reason or status). System goroutines are not counted."}
	OldestWait = Metric{Name: "gorigin_goroutines_oldest_wait_seconds", Group: true,
		Help: "The longest wait among the group's goroutines, where the runtime recorded it (since a garbage collection saw them waiting)."}
	TargetGoroutines = Metric{Name: "gorigin_target_goroutines",
		Help: "Goroutines of the process in the last snapshot (system goroutines not counted), the sum of gorigin_goroutines."}
	SnapshotDuration = Metric{Name: "gorigin_snapshot_duration_seconds",
		Help: "How long the last snapshot of the process took."}
	SnapshotFreeze = Metric{Name: "gorigin_snapshot_freeze_seconds",
		Help: "How long the last snapshot stopped the process (0 with --freeze never; the agent's is runtime.Stack's stop-the-world pause)."}
	SnapshotTimestamp = Metric{Name: "gorigin_snapshot_timestamp_seconds",
		Help: "When the last successful snapshot of the process was taken, in seconds since the Unix epoch."}
	SnapshotErrors = Metric{Name: "gorigin_snapshot_errors_total", Counter: true,
		Help: "Snapshots of the process that failed."}
)

// Families are every family above, in order.
var Families = []Metric{Goroutines, OldestWait, TargetGoroutines, SnapshotDuration, SnapshotFreeze, SnapshotTimestamp, SnapshotErrors}

// Label names.
var (
	TargetLabels = []string{"pid", "exe"}
	GroupLabels  = []string{"pid", "exe", "origin", "start", "state"}
)

// Labels are m's label names.
func (m Metric) Labels() []string {
	if m.Group {
		return GroupLabels
	}
	return TargetLabels
}
