package integration

// The leak analysis' explanation: each distinct wait object once per group, with how many
// goroutines wait on it and its type; the JSON report per group with the analysis' own
// freeze and mode; the main goroutine parked in select {} reported apart, by design. The
// oracle is the leak fixture's source: its LEAK/NOLEAK markers, and the types of what each
// marked go statement's goroutines wait on, read off the code below each marker.

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// leakWaitTypes is, per marker of leakfixture/main.go, the type of the objects its
// goroutines wait on and how many distinct objects all of them share (from the source:
// leakSend's ch is a chan int, leakSelect's two channels are chan int, leakMutex locks
// the sync.Mutex embedded in one struct, ...).
var leakWaitTypes = map[string]struct {
	typ     string
	objects int
}{
	"send": {"chan int", 1}, "recv": {"chan string", 1}, "select": {"chan int", 2},
	"mutex": {"sync.Mutex", 1}, "rlock": {"sync.RWMutex", 1}, "wlock": {"sync.RWMutex", 1},
	"waitgroup": {"sync.WaitGroup", 1}, "cond": {"sync.Cond", 1},
	"chain1": {"chan int", 1}, "chain2": {"chan int", 1}, "chain3": {"chan int", 1},
	"global": {"chan int", 1}, "globalmutex": {"sync.Mutex", 1},
}

func TestLeaksExplainWaitObjectsAndParkedMain(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	dir := leakFixtureDir(t)
	markers := leakMarkers(t, dir)
	byName := map[string]leakMarker{}
	for _, m := range markers {
		byName[m.name] = m
	}
	bin := programBinary(t, dir, hostVariant(t))
	f := startFixture(t, bin, "-parkmain")
	pid := strconv.Itoa(f.Pid)
	waitLeaksBlocked(t, f.Pid, markers, dir+"/main.go")

	// main prints "ready" and then parks: wait until it has.
	var snap *snapshot.Snapshot
	for deadline := time.Now().Add(time.Minute); ; {
		snap, _ = leaksJSON(t, pid, "--all")
		if mainParked(snap) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutine 1 never parked in select {}")
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkLeaks(t, snap, markers, dir)

	lr := snap.Leaks
	if lr == nil {
		t.Fatal("the JSON has no leaks report")
	}
	if lr.Mode != "copy" && lr.Mode != "frozen" || lr.FreezeMicros <= 0 {
		t.Errorf("leaks report: mode %q, freeze %d µs; want the analysis' own mode and freeze", lr.Mode, lr.FreezeMicros)
	}
	if len(lr.ByDesign) != 1 || lr.ByDesign[0].ID != 1 || !strings.Contains(lr.ByDesign[0].Why, "select {}") {
		t.Errorf("byDesign = %+v, want goroutine 1 parked in select {}", lr.ByDesign)
	}
	for _, g := range snap.Goroutines {
		if g.ID == 1 && g.Leak == "leaked" {
			t.Errorf("the main goroutine parked in select {} is called leaked")
		}
	}
	for _, grp := range lr.Groups {
		for _, id := range grp.Goroutines {
			if id == 1 {
				t.Errorf("goroutine 1 (by design) is in group %+v", grp.Origin)
			}
		}
	}

	checked := map[string]bool{}
	for _, grp := range lr.Groups {
		if grp.Origin == nil {
			continue
		}
		mk, ok := markers[grp.Origin.Line]
		want, typed := leakWaitTypes[mk.name]
		if !ok || !typed || grp.Origin.File != dir+"/main.go" {
			continue
		}
		checked[mk.name] = true
		if len(grp.WaitObjects) != want.objects {
			t.Errorf("%s (main.go:%d): %d wait objects %+v, want %d", mk.name, mk.line, len(grp.WaitObjects), grp.WaitObjects, want.objects)
			continue
		}
		for _, o := range grp.WaitObjects {
			if o.Type != want.typ {
				t.Errorf("%s (main.go:%d): wait object %s has type %q, want %q", mk.name, mk.line, o.Addr, o.Type, want.typ)
			}
			if o.Waiters != len(grp.Goroutines) {
				t.Errorf("%s (main.go:%d): %d of %d goroutines wait on %s", mk.name, mk.line, o.Waiters, len(grp.Goroutines), o.Addr)
			}
		}
		if mk.name == "globalmutex" && (grp.WaitObjects[0].Where != "global" || !strings.HasPrefix(grp.WaitObjects[0].Object, "main.globalMu")) {
			t.Errorf("globalmutex waits on %+v, want the global main.globalMu", grp.WaitObjects[0])
		}
		if mk.leak && grp.Verdict != "leaked" {
			t.Errorf("%s: group verdict %q", mk.name, grp.Verdict)
		}
	}
	for name := range leakWaitTypes {
		if !checked[name] {
			t.Errorf("no group of the report is marker %s's", name)
		}
	}

	// The text: each group names each of its wait objects once, and main apart.
	r := runGorigin(t, nil, "leaks", pid)
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	out := string(r.Stdout)
	if !strings.Contains(out, "goroutine 1: main parked in select {} — by design, not a leak to fix") {
		t.Errorf("the text does not report main parked in select {} apart:\n%s", out)
	}
	why := out[strings.Index(out, "\nwhy:\n"):]
	addr := regexp.MustCompile(`0x[0-9a-f]+`)
	for _, block := range strings.Split(why, "\n  ")[1:] {
		seen := map[string]bool{}
		for _, line := range strings.Split(block, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "waits on ") {
				continue
			}
			a := addr.FindString(line)
			if seen[a] {
				t.Errorf("wait object %s named twice in one group:\n%s", a, block)
			}
			seen[a] = true
			if !regexp.MustCompile(`: \d+ goroutines?$`).MatchString(line) {
				t.Errorf("wait object line without its count of goroutines: %q", line)
			}
		}
	}
	if want := byName["send"]; !strings.Contains(why, "waits on chan int ") || want.count < 2 {
		t.Errorf("the why section names no chan int:\n%s", why)
	}
}

// mainParked says whether goroutine 1 is parked in select {} in snap.
func mainParked(snap *snapshot.Snapshot) bool {
	for _, g := range snap.Goroutines {
		if g.ID == 1 {
			return g.WaitReason == "select (no cases)"
		}
	}
	return false
}
