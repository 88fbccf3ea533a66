package source

import (
	"os"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// coreTime sets a core's snapshot's TakenAt to the core file's modification time: when
// the kernel, gcore or dlv finished writing it, the closest record of the moment it
// shows (a core holds no clock gorigin can trust). Unchanged when the file cannot be
// stat'ed.
func coreTime(snap *snapshot.Snapshot, path string) {
	if fi, err := os.Stat(path); err == nil {
		snap.Source.TakenAt = fi.ModTime().UTC()
	}
}
