package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// fileTime is the file name's time stamp: fixed width, so names sort by time.
const fileTime = "20060102T150405.000000000Z"

// filePrefix is the start of every snapshot file name of process pid.
func filePrefix(pid int) string { return "gorigin-" + strconv.Itoa(pid) + "-" }

// writeSnapshot writes s into dir as gorigin-PID-TIME.json atomically (a temporary file
// renamed into place, so a reader never sees half a file), then removes this process's
// oldest snapshot files beyond keep. It returns the file's path.
func writeSnapshot(dir string, s *snapshot.Snapshot, keep int) (string, error) {
	tmp, err := os.CreateTemp(dir, ".gorigin-*.tmp")
	if err != nil {
		return "", fmt.Errorf("agent: write snapshot into %s: %w (Options.Dir must be a writable directory)", dir, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if err := snapshot.Encode(tmp, s); err != nil {
		tmp.Close()
		return "", fmt.Errorf("agent: write snapshot %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("agent: write snapshot %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("agent: write snapshot %s: %w", tmp.Name(), err)
	}
	name := filepath.Join(dir, filePrefix(s.Source.Pid)+s.Source.TakenAt.UTC().Format(fileTime)+".json")
	if err := os.Rename(tmp.Name(), name); err != nil {
		return "", fmt.Errorf("agent: write snapshot %s: %w", name, err)
	}
	return name, rotate(dir, s.Source.Pid, keep)
}

// rotate removes the oldest snapshot files of process pid in dir beyond keep.
func rotate(dir string, pid, keep int) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("agent: rotate snapshots in %s: %w", dir, err)
	}
	var mine []string
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, filePrefix(pid)) && strings.HasSuffix(n, ".json") && e.Type().IsRegular() {
			mine = append(mine, n)
		}
	}
	slices.Sort(mine)
	for len(mine) > keep {
		if err := os.Remove(filepath.Join(dir, mine[0])); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("agent: rotate snapshots in %s: %w", dir, err)
		}
		mine = mine[1:]
	}
	return nil
}
