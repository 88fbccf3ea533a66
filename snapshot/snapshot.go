// Package snapshot is gorigin's one model of a Go process's goroutines at a moment.
//
// Every source (a live process, a core file, a text dump) produces a Snapshot; every
// analysis and renderer consumes one. The JSON form is the versioned schema
// "gorigin.snapshot/v1". Fields a source cannot know are left empty and omitted, never
// guessed.
package snapshot

import (
	"fmt"
	"time"
)

// Schema names the JSON document version written by Encode and accepted by Decode.
const Schema = "gorigin.snapshot/v1"

// Snapshot is every goroutine of one process at one moment, and where that came from.
type Snapshot struct {
	Schema     string      `json:"schema"`
	Source     Source      `json:"source"`
	Goroutines []Goroutine `json:"goroutines"`
	// Warnings are things the user should know about this snapshot (a partial read,
	// goroutines that changed during a non-freezing read, ...).
	Warnings []string `json:"warnings,omitempty"`
	// Leaks is the leak analysis' report, when it ran.
	Leaks *LeakReport `json:"leaks,omitempty"`
	// Crash is the panic or fatal error of a crash log (a dump), when it shows one.
	Crash *Crash `json:"crash,omitempty"`
}

// Source says where a snapshot came from and what it cost the target.
type Source struct {
	Kind      SourceKind `json:"kind"`
	Backend   Backend    `json:"backend"`
	Pid       int        `json:"pid,omitempty"`
	Exe       string     `json:"exe,omitempty"`
	GoVersion string     `json:"goVersion,omitempty"`
	TakenAt   time.Time  `json:"takenAt"`
	// FreezeMicros is how long the target was stopped, in microseconds. Zero when the
	// snapshot was read without stopping it (Freeze "never") or from a non-live source.
	FreezeMicros int64 `json:"freezeMicros"`
	// Freeze is the freeze mode of a live read: "always" or "never".
	Freeze FreezeMode `json:"freeze,omitempty"`
	// Partial is true when the snapshot is not one consistent read of every goroutine (the
	// --max-freeze deadline passed during the read, a traceback was cut short): Goroutines
	// holds what was read, and Warnings[0] says why.
	Partial bool `json:"partial,omitempty"`
	// File is the core file or text dump the snapshot was read from (kinds "core" and
	// "dump"); empty for a live process or when the dump came from a pipe.
	File string `json:"file,omitempty"`
	// PreviousLook is when gorigin last looked at the same process (same pid and start
	// time), for Goroutine.SeenSeconds; absent when it never did or history is off.
	PreviousLook *time.Time `json:"previousLook,omitempty"`
}

// Goroutine is one goroutine. ID is zero when the source does not know it.
type Goroutine struct {
	ID          int64   `json:"id,omitempty"`
	ParentID    int64   `json:"parentId,omitempty"`
	Status      Status  `json:"status"`
	WaitReason  string  `json:"waitReason,omitempty"`
	WaitSeconds float64 `json:"waitSeconds,omitempty"`
	// SeenSeconds is gorigin's own figure beside the runtime's WaitSeconds: how long
	// before this snapshot gorigin's earlier looks at this process first saw the goroutine
	// blocked at the same place, and at every look since (absent: not seen at the
	// previous look, or no history). See History.
	SeenSeconds float64 `json:"seenSeconds,omitempty"`
	// Origin is the go statement that created the goroutine.
	Origin *Location `json:"origin,omitempty"`
	// Start is the function the goroutine started in.
	Start      *Location         `json:"start,omitempty"`
	Frames     []Location        `json:"frames,omitempty"`
	StackBytes int64             `json:"stackBytes,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	// System is true for goroutines the runtime itself considers system goroutines
	// (GC workers, the finalizer goroutine when idle, ...).
	System         bool `json:"system"`
	LockedToThread bool `json:"lockedToThread,omitempty"`
	// Changed marks a goroutine whose state differed between the two reads of a
	// non-freezing snapshot: its fields are the second read and may be inconsistent.
	Changed bool `json:"changed,omitempty"`
	// Leak is the leak analysis' verdict; present only when it ran.
	Leak Verdict `json:"leak,omitempty"`
	// WaitsOn are the objects a blocked goroutine waits on (a select: its channels),
	// when they were read (--by object, from a live process or a core).
	WaitsOn []WaitObject `json:"waitsOn,omitempty"`
}

// Location is a point in the program: a function and a source position.
type Location struct {
	Func string `json:"func"`
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// PC is the program counter in hex ("0x4a1b2c"), when the source knows it.
	PC string `json:"pc,omitempty"`
	// Inlined is true for a frame that the compiler inlined into its caller.
	Inlined bool `json:"inlined,omitempty"`
}

// String formats a location as "func file:line", or as much of it as is known.
func (l *Location) String() string {
	if l == nil {
		return "?"
	}
	if l.File == "" {
		return l.Func
	}
	return fmt.Sprintf("%s %s:%d", l.Func, l.File, l.Line)
}

// Validate checks the invariants every source must keep: the schema, a known source
// kind, a known status on every goroutine, and unique non-zero ids.
func (s *Snapshot) Validate() error {
	if s.Schema != Schema {
		return fmt.Errorf("snapshot schema %q, want %q", s.Schema, Schema)
	}
	if !s.Source.Kind.Known() {
		return fmt.Errorf("snapshot source kind %q is not live, core or dump", s.Source.Kind)
	}
	seen := map[int64]bool{}
	for i, g := range s.Goroutines {
		if !g.Status.Known() {
			return fmt.Errorf("goroutine #%d (id %d): unknown status %q", i, g.ID, g.Status)
		}
		if g.ID != 0 {
			if seen[g.ID] {
				return fmt.Errorf("goroutine id %d appears twice", g.ID)
			}
			seen[g.ID] = true
		}
		if g.WaitSeconds < 0 || g.SeenSeconds < 0 {
			return fmt.Errorf("goroutine %d: negative wait %v or seen %v", g.ID, g.WaitSeconds, g.SeenSeconds)
		}
	}
	return nil
}
