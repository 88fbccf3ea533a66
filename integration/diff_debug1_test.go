package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/integration/oracle"
	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestDiffDebug1AgainstLive: a debug=1 profile has no "created by" lines, so by origin every
// group of it would look gone and every group of the live side new. gorigin diff compares
// what both sides carry instead — start functions — and says so; --by origin asked for
// explicitly is exit 2 saying what debug=1 lacks. The groups are checked against the
// runtime's own debug=2 dumps taken around the diff: the idle fixture's start functions
// have the same counts on both sides.
func TestDiffDebug1AgainstLive(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	v := hostVariant(t)
	f := startFixture(t, fixtureBinary(t, v), "-n", strconv.Itoa(extraGoroutines))
	before := f.debug2(t)
	text, err := f.get("/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	d1 := filepath.Join(t.TempDir(), "debug1.txt")
	if err := os.WriteFile(d1, text, 0o600); err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(f.Pid)

	r := runGorigin(t, nil, "diff", d1, pid, "--format", "json")
	after := f.debug2(t)
	if r.Code != 0 || !strings.Contains(string(r.Stderr), "comparing by start function") {
		t.Fatalf("diff of a debug=1 dump and a live pid: want exit 0 and a note that it compares by start function; got %v", r)
	}
	var d snapshot.Diff
	if err := json.Unmarshal(r.Stdout, &d); err != nil {
		t.Fatalf("%v\n%s", err, r.Stdout)
	}
	if d.By != "start" {
		t.Errorf("diff compared by %q, want start", d.By)
	}
	// The oracle: start functions whose count the runtime saw unchanged across the diff.
	count := func(gs []oracle.Goroutine) map[string]int {
		m := map[string]int{}
		for i := range gs {
			m[gs[i].StartFunc()]++
		}
		return m
	}
	want, wantAfter := count(before), count(after)
	compared := 0
	for _, g := range d.Groups {
		if g.Start == nil || want[g.Start.Func] == 0 || want[g.Start.Func] != wantAfter[g.Start.Func] ||
			strings.HasPrefix(g.Start.Func, "net/http.") {
			continue // changed meanwhile, or serving the very requests that fetched the dumps
		}
		compared++
		if g.Before != want[g.Start.Func] || g.After != want[g.Start.Func] {
			t.Errorf("%s: before %d after %d, the runtime %d on both sides", g.Start.Func, g.Before, g.After, want[g.Start.Func])
		}
	}
	if compared < 15 {
		t.Errorf("only %d start-function groups compared with the runtime's dump:\n%s", compared, r.Stdout)
	}

	r = runGorigin(t, nil, "diff", d1, pid, "--by", "origin")
	if r.Code != 2 || !strings.Contains(string(r.Stderr), "no creation sites") || !strings.Contains(string(r.Stderr), "--by start") {
		t.Errorf("diff --by origin of a debug=1 dump: want exit 2 saying it has no creation sites and to use --by start; got %v", r)
	}
	testenv.CheckRunsFreely(t, f.Pid, 100*time.Millisecond)
}
