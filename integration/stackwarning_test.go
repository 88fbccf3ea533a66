package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestStackWarningCountsShownGoroutines saves a --stacks snapshot of the leak fixture
// in which its spinning goroutine is running, then renders it with --match keeping
// other goroutines: the warning about running goroutines without a stack must count
// the running goroutines among those shown (by the saved snapshot's own statuses), not
// the ones --match dropped.
func TestStackWarningCountsShownGoroutines(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	dir := leakFixtureDir(t)
	v := hostVariant(t)
	prebuild(dir, []variant{v})
	f := startFixture(t, programBinary(t, dir, v))
	path := filepath.Join(t.TempDir(), "snap.json")
	var snap *snapshot.Snapshot
	deadline := time.Now().Add(time.Minute)
	for {
		r := runGorigin(t, nil, "attach", strconv.Itoa(f.Pid), "--stacks", "--format", "json", "-o", path)
		if r.Code != 0 {
			t.Fatalf("%v", r)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if snap, err = snapshot.Decode(bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if spinnerRunning(snap) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("in a minute of snapshots the fixture's spinner (main.spin) was never running")
		}
	}
	warning := regexp.MustCompile(`(\d+) running goroutine\(s\) have no stack`)
	for _, match := range []string{"start:^main\\.spin$", "origin:main\\.liveGlobal", "start:main\\.(spin|leakSend)"} {
		r := runGorigin(t, nil, "dump", path, "--match", match, "--system")
		if r.Code != 0 {
			t.Fatalf("%v", r)
		}
		flt, err := snapshot.ParseFilter(match)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, g := range snapshot.Select(snap.Goroutines, []snapshot.Filter{flt}, nil) {
			if g.Status == snapshot.StatusRunning {
				want++
			}
		}
		got := 0
		if m := warning.FindSubmatch(r.Stdout); m != nil {
			got, _ = strconv.Atoi(string(m[1]))
		}
		if got != want {
			t.Errorf("--match %s: the warning counts %d running goroutines without a stack, want the %d among those shown:\n%s", match, got, want, r.Stdout)
		}
	}
}

func spinnerRunning(s *snapshot.Snapshot) bool {
	for _, g := range s.Goroutines {
		if g.Status == snapshot.StatusRunning && g.Start != nil && g.Start.Func == "main.spin" {
			return true
		}
	}
	return false
}
