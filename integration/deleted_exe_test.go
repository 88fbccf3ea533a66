package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// TestAttachAfterTheBinaryIsGone: a deploy replaced or deleted the executable of a
// running service. gorigin reads the original through /proc/PID/exe, gives the same
// answer as the runtime, and says what happened.
func TestAttachAfterTheBinaryIsGone(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	v := hostVariant(t)
	data, err := os.ReadFile(fixtureBinary(t, v))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "fixture")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	f := startFixture(t, bin, "-n", "3")
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	before := f.debug2(t)
	snap, _ := attachJSON(t, f.Pid, nil)
	testenv.CheckRunsFreely(t, f.Pid, 100*time.Millisecond)
	after := f.debug2(t)

	warned := false
	for _, w := range snap.Warnings {
		warned = warned || strings.Contains(w, "deleted")
	}
	if !warned {
		t.Errorf("no warning that the executable was deleted: %q", snap.Warnings)
	}
	compareWithOracle(t, expect(t, v, 3), snap, before, after, compareOptions{})
}
