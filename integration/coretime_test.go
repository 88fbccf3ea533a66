package integration

import (
	"os"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// TestCoreTakenAtIsTheFileTime requires a core's snapshot to say it was taken when the
// core file was written (its modification time, set here to a moment gorigin cannot
// otherwise know), not when gorigin read it.
func TestCoreTakenAtIsTheFileTime(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	dir, _ := objectsFixture(t)
	v := hostVariant(t)
	prebuild(dir, []variant{v})
	f := startFixture(t, programBinary(t, dir, v))
	core := gcore(t, f.Pid, t.TempDir())
	written := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := os.Chtimes(core, written, written); err != nil {
		t.Fatal(err)
	}
	snap := coreJSON(t, core, f.Pid)
	if !snap.Source.TakenAt.Equal(written) {
		t.Errorf("the core's snapshot was taken at %v, want the core file's modification time %v", snap.Source.TakenAt, written)
	}
}
