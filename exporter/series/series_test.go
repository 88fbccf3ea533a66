package series

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// goroutines makes n goroutines created at file:line, started in start, in state reason.
func goroutines(n int, file string, line int, start, reason string, wait float64) []snapshot.Goroutine {
	gs := make([]snapshot.Goroutine, n)
	for i := range gs {
		gs[i] = snapshot.Goroutine{Status: snapshot.StatusWaiting, WaitReason: reason, WaitSeconds: wait * float64(i+1) / float64(n),
			Origin: &snapshot.Location{Func: "main.main", File: file, Line: line}, Start: &snapshot.Location{Func: start}}
	}
	return gs
}

func TestFromSnapshotBoundsOrigins(t *testing.T) {
	snap := &snapshot.Snapshot{Source: snapshot.Source{Pid: 7, Exe: "/bin/x", FreezeMicros: 1500}}
	// Origins a.go:1..6 with 6..1 goroutines; a system goroutine and the main goroutine.
	for i := 1; i <= 6; i++ {
		snap.Goroutines = append(snap.Goroutines, goroutines(7-i, "/src/a.go", i, "main.f", "chan receive", float64(i))...)
	}
	snap.Goroutines = append(snap.Goroutines, snapshot.Goroutine{Status: snapshot.StatusWaiting, WaitReason: "GC worker (idle)", System: true},
		snapshot.Goroutine{Status: snapshot.StatusRunning, Start: &snapshot.Location{Func: "runtime.main"}})

	tg := FromSnapshot(snap, 3)
	if tg.Total != 6+5+4+3+2+1+1 || tg.Pid != 7 || tg.Exe != "/bin/x" || tg.FreezeSeconds != 0.0015 {
		t.Errorf("target %+v: want 22 non-system goroutines of pid 7, /bin/x, 1.5 ms frozen", tg)
	}
	got := map[string]Group{} // by origin, over states
	sum := 0
	for _, g := range tg.Groups {
		m := got[g.Origin]
		m.Count += g.Count
		m.OldestWait = max(m.OldestWait, g.OldestWait)
		m.Start, m.State = g.Start, g.State
		got[g.Origin] = m
		sum += g.Count
	}
	if sum != tg.Total {
		t.Errorf("groups sum to %d, total is %d", sum, tg.Total)
	}
	// The three largest keep their series; the rest and the main goroutine (1, ranked
	// by name after a.go:6's 1) are "other".
	want := map[string]int{"/src/a.go:1": 6, "/src/a.go:2": 5, "/src/a.go:3": 4, Other: 3 + 2 + 1 + 1}
	if len(got) != len(want) {
		t.Errorf("origins %v, want %v", got, want)
	}
	for o, n := range want {
		if got[o].Count != n {
			t.Errorf("origin %s: %d goroutines, want %d", o, got[o].Count, n)
		}
	}
	if g := got["/src/a.go:1"]; g.OldestWait != 1 || g.Start != "main.f" || g.State != "chan receive" {
		t.Errorf("a.go:1's group %+v: want oldest wait 1 s, start main.f, state chan receive", g)
	}
	if g := got[Other]; g.Start != Other || g.OldestWait != 6 || len(tg.Groups) != 5 {
		t.Errorf("other's group %+v: want start other and the oldest wait of its members, 6 s, in two states (5 groups in all: %+v)", g, tg.Groups)
	}

	// Unbounded, the main goroutine has origin "none".
	if g := FromSnapshot(snap, 100).Groups; g[len(g)-1].Origin != NoOrigin && !hasOrigin(g, NoOrigin) {
		t.Errorf("no group with origin %q in %+v", NoOrigin, g)
	}
}

func hasOrigin(gs []Group, o string) bool {
	for _, g := range gs {
		if g.Origin == o {
			return true
		}
	}
	return false
}

func TestFromSnapshotBoundsStarts(t *testing.T) {
	snap := &snapshot.Snapshot{}
	for i := range MaxStartsPerOrigin + 3 {
		snap.Goroutines = append(snap.Goroutines, goroutines(10-i, "/src/b.go", 9, fmt.Sprintf("main.f%d", i), "select", 0)...)
	}
	starts := map[string]int{}
	for _, g := range FromSnapshot(snap, 0).Groups {
		starts[g.Start] += g.Count
	}
	if len(starts) != MaxStartsPerOrigin+1 || starts[Other] != 5+4+3 || starts["main.f0"] != 10 {
		t.Errorf("starts %v: want the %d largest and other (12)", starts, MaxStartsPerOrigin)
	}
}

func TestLabelBoundsHostileValues(t *testing.T) {
	long := strings.Repeat("é", MaxLabelLen) // 2 bytes a rune
	for _, in := range []string{long, "bad\xff\xfebytes" + long, "ok \"quoted\" \\ \n line"} {
		out := Label(in)
		if !utf8.ValidString(out) || len(out) > MaxLabelLen {
			t.Errorf("Label(%.20q...) = %.20q... (%d bytes): want valid UTF-8 of at most %d bytes", in, out, len(out), MaxLabelLen)
		}
		if len(in) <= MaxLabelLen && utf8.ValidString(in) && out != in {
			t.Errorf("Label(%q) = %q: a short valid value must be kept as it is (escaping is the format's)", in, out)
		}
	}
	if out := Label(long); !strings.HasSuffix(out, "…") || !strings.HasPrefix(long, strings.TrimSuffix(out, "…")) {
		t.Errorf("Label cut %q: want a prefix of the value and …", out)
	}
}
