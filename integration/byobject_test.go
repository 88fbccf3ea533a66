package integration

// gorigin attach --by object and gorigin core --by object: the goroutines grouped by the
// channel, mutex or WaitGroup they wait on, checked against the objects fixture's own
// source (how many goroutines it blocks on what) and the runtime's debug=2 dump of the
// same process (which goroutine is which, and what it waits for, by id).

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorigin-dev/gorigin/integration/oracle"
	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// objectsFixture is the fixture's source directory and its counts: the n* constants of
// its main.go by function that blocks them.
func objectsFixture(t *testing.T) (string, map[string]int) {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "objects"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^\s*n(Queue|Own|Mutex|WG)\s*=\s*(\d+)$`).FindAllSubmatch(src, -1) {
		n, _ := strconv.Atoi(string(m[2]))
		want["main.block"+string(m[1])] = n
	}
	if len(want) != 4 {
		t.Fatalf("found the counts %v in %s/main.go, want nQueue, nOwn, nMutex and nWG", want, dir)
	}
	return dir, want
}

// blockers are the fixture's blocking functions and the wait reason each parks in.
var blockers = map[string]string{
	"main.blockQueue": "chan receive", "main.blockOwn": "chan receive",
	"main.blockMutex": "sync.Mutex.Lock", "main.blockWG": "sync.WaitGroup.Wait",
}

// settledBlockers polls the fixture's debug=2 dump until every goroutine it started
// waits where its function parks it (the mutex waiters spin before they park), and
// returns, by goroutine id, the blocking function of each.
func settledBlockers(t *testing.T, f *fixture, want map[string]int) map[int64]string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		byID := map[int64]string{}
		count := map[string]int{}
		for _, g := range f.debug2(t) {
			if fn := blockerOf(g); fn != "" && g.Status == blockers[fn] {
				byID[g.ID] = fn
				count[fn]++
			}
		}
		settled := true
		for fn, n := range want {
			settled = settled && count[fn] == n
		}
		if settled {
			return byID
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute the runtime shows %v goroutines parked in the fixture's functions, want %v", count, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func blockerOf(g oracle.Goroutine) string {
	for _, fr := range g.Frames {
		if _, ok := blockers[fr.Func]; ok {
			return fr.Func
		}
	}
	return ""
}

// objectWant is, by blocking function, the type of the object its goroutines wait on
// and the start of what holds it ("": nothing gorigin can name).
var objectWant = map[string]struct{ typ, from string }{
	"main.blockQueue": {"chan *main.Request", "the global main.queue"},
	"main.blockOwn":   {"chan int", ""},
	"main.blockMutex": {"sync.Mutex", "the global main.mu"},
	"main.blockWG":    {"sync.WaitGroup", "the global main.pool"},
}

// checkObjects requires the snapshot to put the fixture's goroutines (byID) on the
// objects its source says: all nQueue on one channel of *main.Request held by the global
// main.queue, each of nOwn on a channel of its own, all nMutex on one sync.Mutex (the
// global main.mu), all nWG on one sync.WaitGroup (in the object main.pool points to).
func checkObjects(t *testing.T, snap *snapshot.Snapshot, byID map[int64]string, want map[string]int) {
	t.Helper()
	objects := map[string]map[string]int{} // function → object address → goroutines
	seen := 0
	for _, g := range snap.Goroutines {
		fn, ok := byID[g.ID]
		if !ok {
			continue
		}
		seen++
		if len(g.WaitsOn) != 1 {
			t.Errorf("goroutine %d (%s) waits on %+v, want one object", g.ID, fn, g.WaitsOn)
			continue
		}
		w := g.WaitsOn[0]
		wantType, wantFrom := objectWant[fn].typ, objectWant[fn].from
		if w.Type != wantType || !strings.HasPrefix(w.ReachedFrom, wantFrom) || (wantFrom == "" && w.ReachedFrom != "") {
			t.Errorf("goroutine %d (%s) waits on %s %s reached from %q, want %s reached from %q", g.ID, fn, w.Type, w.Addr, w.ReachedFrom, wantType, wantFrom)
		}
		if objects[fn] == nil {
			objects[fn] = map[string]int{}
		}
		objects[fn][w.Addr]++
	}
	if seen != len(byID) {
		t.Errorf("the snapshot has %d of the %d goroutines the runtime showed blocked in the fixture", seen, len(byID))
	}
	for fn, n := range want {
		distinct := 1
		if fn == "main.blockOwn" {
			distinct = n
		}
		if len(objects[fn]) != distinct {
			t.Errorf("the %d goroutines of %s wait on %d objects, want %d: %v", n, fn, len(objects[fn]), distinct, objects[fn])
		}
	}
}

// checkObjectTable requires the text table's rows to be the fixture's groups: one of
// nQueue, nMutex and nWG goroutines on their objects, and nOwn rows of one.
func checkObjectTable(t *testing.T, out []byte, want map[string]int) {
	t.Helper()
	rows := map[string]int{}
	own := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		n, err := strconv.Atoi(strings.ReplaceAll(f[0], ",", ""))
		if err != nil {
			continue
		}
		switch {
		case strings.Contains(line, "chan *main.Request") && strings.Contains(line, "reached from the global main.queue"):
			rows["main.blockQueue"] = n
		case strings.Contains(line, "sync.Mutex 0x") && strings.Contains(line, "reached from the global main.mu"):
			rows["main.blockMutex"] = n
		case strings.Contains(line, "sync.WaitGroup 0x") && strings.Contains(line, "reached from the global main.pool"):
			rows["main.blockWG"] = n
		case strings.Contains(line, "chan int 0x") && strings.Contains(line, "reached from unknown") && n == 1:
			own++
		}
	}
	rows["main.blockOwn"] = own
	for fn, n := range want {
		if rows[fn] != n {
			t.Errorf("the table shows %d for %s's object, want %d:\n%s", rows[fn], fn, n, out)
		}
	}
}

// TestByObjectLiveAndCore runs gorigin attach --by object on the objects fixture (JSON
// and the table) and gorigin core --by object on a gcore of it, and checks both against
// the fixture's source and the runtime's dump; a dump of it gets exit status 2 and a
// message that says why.
func TestByObjectLiveAndCore(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	dir, want := objectsFixture(t)
	v := hostVariant(t)
	prebuild(dir, []variant{v})
	f := startFixture(t, programBinary(t, dir, v))
	byID := settledBlockers(t, f, want)

	snap, _ := attachJSON(t, f.Pid, nil, "--by", "object")
	checkObjects(t, snap, byID, want)
	r := runGorigin(t, nil, "attach", strconv.Itoa(f.Pid), "--by", "object", "--top", "0")
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	checkObjectTable(t, r.Stdout, want)
	checkNarrowObjectTable(t, f.Pid, want)
	testenv.CheckRunsFreely(t, f.Pid, time.Second)
	f.checkAnswers(t)

	// With the leak analysis the marking says what reaches each object: the fixture's
	// own channels only their goroutines (leaked), the others a global (live).
	leaked, _ := leaksJSON(t, strconv.Itoa(f.Pid), "--by", "object")
	for _, g := range leaked.Goroutines {
		fn, ok := byID[g.ID]
		if !ok {
			continue
		}
		want := "something that can run (live)"
		if fn == "main.blockOwn" {
			want = "nothing that can run (leaked)"
		}
		if len(g.WaitsOn) != 1 || (g.WaitsOn[0].ReachedFrom != want && (fn == "main.blockOwn" || !strings.HasPrefix(g.WaitsOn[0].ReachedFrom, "the global "))) {
			t.Errorf("gorigin leaks --by object: goroutine %d (%s) waits on %+v, want one object reached from %q", g.ID, fn, g.WaitsOn, want)
		}
	}

	core := gcore(t, f.Pid, t.TempDir())
	checkObjects(t, coreJSON(t, core, f.Pid, "--by", "object"), byID, want)

	text, err := f.get("/debug/pprof/goroutine?debug=2")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "goroutines.txt")
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	r = runGorigin(t, nil, "dump", path, "--by", "object")
	if r.Code != 2 || !bytes.Contains(r.Stderr, []byte("live process")) || !bytes.Contains(r.Stderr, []byte("--by wait")) {
		t.Errorf("gorigin dump --by object: want exit status 2 saying a live process or a core carries the objects, got %v", r)
	}
}

// checkNarrowObjectTable: on an 80-column terminal the object each group waits on is
// what --by object is read for, so WAITS ON keeps the object's type and the start of its
// address, while no line is wider than the terminal and the go statement's file:line
// stays whole (START and the other columns give way first).
func checkNarrowObjectTable(t *testing.T, pid int, want map[string]int) {
	t.Helper()
	const cols = 80
	out := runOnPty(t, cols, "attach", strconv.Itoa(pid), "--by", "object", "--top", "0", "--no-history")
	for _, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > cols {
			t.Errorf("a line of %d columns on a terminal of %d: %q", n, cols, l)
		}
	}
	objects := tableCells(t, out, "WAITS ON")
	created := tableCells(t, out, "CREATED AT")
	queue := false
	for i, r := range objects {
		if strings.HasPrefix(r.cell, "chan *main.Request 0x") && r.count == want["main.blockQueue"] {
			queue = true
		}
		if c := created[i].cell; fileLineRE.FindString(c) == "" && !strings.HasPrefix(c, "(no go statement") {
			t.Errorf("row %q: CREATED AT %q has no whole file:line", r.line, c)
		}
	}
	if !queue {
		t.Errorf("at %d columns no row of %d shows WAITS ON \"chan *main.Request 0x…\":\n%s", cols, want["main.blockQueue"], out)
	}
}
