package integration

// A goroutine Go 1.26's leak detector marked leaked (_Gleaked) keeps its wait reason in
// gorigin as the runtime's own profile shows it: "[select (no cases) (leaked)]".

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestLeakedStatusKeepsWaitReason builds the leak fixture with
// GOEXPERIMENT=goroutineleakprofile, asks the runtime for its goroutineleak profile (which
// marks the leaked goroutines _Gleaked until the next detection), and requires gorigin
// attach and gorigin dump of that profile to show each of them as the runtime does:
// status leaked, the wait reason in the header, and "REASON (leaked)" in the table.
func TestLeakedStatusKeepsWaitReason(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	if testenv.Minor(testenv.Host) < 26 {
		t.Skipf("%s has no goroutine leak profile (Go 1.26+)", testenv.Host)
	}
	bin := testenv.Binary(t, testenv.Build{Dir: leakFixtureDir(t), Toolchain: testenv.Host, Env: []string{"CGO_ENABLED=0", "GOEXPERIMENT=goroutineleakprofile"}})
	f := startFixture(t, bin)
	body, err := f.get("/debug/pprof/goroutineleak?debug=2")
	if err != nil {
		t.Fatalf("the runtime's goroutineleak profile: %v", err)
	}
	// The oracle: the runtime's own headers, "goroutine 7 [chan receive (leaked)]:".
	header := regexp.MustCompile(`(?m)^goroutine (\d+) (?:gp=\S+ m=\S+ (?:mp=\S+ )?)?\[([^\]]*?)(?:, \d+ minutes)? \(leaked\)[^\]]*\]`)
	want := map[int64]string{}
	for _, m := range header.FindAllStringSubmatch(string(body), -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		want[id] = m[2]
	}
	if len(want) == 0 {
		t.Fatalf("the runtime's goroutineleak profile marks no goroutine leaked:\n%.2000s", body)
	}
	reasons := map[string]bool{}
	for _, r := range want {
		reasons[r] = true
	}
	if reasons["leaked"] {
		t.Fatalf("the runtime printed a leaked goroutine without a wait reason; the fixture's leaks all have one:\n%.2000s", body)
	}

	check := func(what string, snap *snapshot.Snapshot) {
		t.Helper()
		got := map[int64]snapshot.Goroutine{}
		for _, g := range snap.Goroutines {
			got[g.ID] = g
		}
		for id, reason := range want {
			g, ok := got[id]
			switch {
			case !ok:
				t.Errorf("%s: goroutine %d, leaked in the runtime's profile, is missing", what, id)
			case g.Status != snapshot.StatusLeaked || g.WaitReason != reason:
				t.Errorf("%s: goroutine %d is %s %q, want leaked %q as the runtime shows it", what, id, g.Status, g.WaitReason, reason)
			}
		}
	}
	snap, _ := attachJSON(t, f.Pid, nil)
	check("attach", snap)

	r := runGorigin(t, nil, "attach", strconv.Itoa(f.Pid), "--by", "wait", "--top", "0")
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	for reason := range reasons {
		if !bytes.Contains(r.Stdout, []byte(reason+" (leaked)")) {
			t.Errorf("the table shows no state %q (the runtime's):\n%s", reason+" (leaked)", r.Stdout)
		}
	}

	path := filepath.Join(t.TempDir(), "goroutineleak.txt")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	r = runGorigin(t, nil, "dump", path, "--format", "json")
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	dumped, err := snapshot.Decode(bytes.NewReader(r.Stdout))
	if err != nil {
		t.Fatalf("gorigin dump --format json: %v\n%.400s", err, r.Stdout)
	}
	check("dump", dumped)
	t.Logf("%d goroutines leaked in the runtime's profile, in %d wait reasons: %s", len(want), len(reasons), strings.Join(keys(reasons), ", "))
}
