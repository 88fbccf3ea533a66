package integration

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/integration/oracle"
	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// startChurn builds and starts testdata/churn and waits until its goroutines are where
// its doc says: before /step (moved false) or after it.
func startChurn(t *testing.T) *fixture {
	t.Helper()
	needGorigin(t)
	bin := testenv.Binary(t, testenv.Build{Dir: filepath.Join("testdata", "churn"), Env: []string{"CGO_ENABLED=0"}})
	fx := startFixture(t, bin)
	fx.settle(t, false)
	return fx
}

// settle polls the fixture's debug=2 dump until its 20 stay, 10 move and 15 end
// goroutines are blocked where they should be (the movers in a select once moved).
func (f *fixture) settle(t *testing.T, moved bool) []oracle.Goroutine {
	t.Helper()
	moverState := "chan receive"
	if moved {
		moverState = "select"
	}
	deadline := time.Now().Add(time.Minute)
	for {
		gs := f.debug2(t)
		n := map[string]int{}
		for _, g := range gs {
			n[g.StartFunc()+" "+g.Status]++
		}
		if n["main.stay chan receive"] == 20 && n["main.mover "+moverState] == 10 && n["main.ender chan receive"] == 15 {
			return gs
		}
		if time.Now().After(deadline) {
			t.Fatalf("churn fixture did not settle (moved %v) within a minute: %v", moved, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// placeKey is where the runtime's dump shows a goroutine blocked: its state and its
// frames; "" for a goroutine that is not blocked.
func placeKey(g *oracle.Goroutine) string {
	switch g.Status {
	case "running", "runnable", "copystack", "preempted", "":
		return ""
	}
	var b strings.Builder
	b.WriteString(g.Status)
	for _, fr := range g.Frames {
		fmt.Fprintf(&b, "|%s %s:%d", fr.Func, fr.File, fr.Line)
	}
	return b.String()
}

// persisted are the ids the two dumps show blocked at the same place.
func persisted(a, b []oracle.Goroutine) []int64 {
	at := map[int64]string{}
	for i := range a {
		at[a[i].ID] = placeKey(&a[i])
	}
	var out []int64
	for i := range b {
		if k := placeKey(&b[i]); k != "" && at[b[i].ID] == k {
			out = append(out, b[i].ID)
		}
	}
	slices.Sort(out)
	return out
}

// ranBetween are the goroutines the runtime's g.waitsince (waitSeconds) shows ran between
// two looks: a wait start known at the first and gone or another at the second. They may
// be blocked at the same place again, but not since the first look.
func ranBetween(first, second *snapshot.Snapshot) map[int64]bool {
	start := map[int64]time.Time{}
	for _, g := range first.Goroutines {
		if g.WaitSeconds > 0 {
			start[g.ID] = first.Source.TakenAt.Add(-time.Duration(g.WaitSeconds * 1e9))
		}
	}
	ran := map[int64]bool{}
	for _, g := range second.Goroutines {
		s1, ok := start[g.ID]
		if !ok {
			continue
		}
		s2 := second.Source.TakenAt.Add(-time.Duration(g.WaitSeconds * 1e9))
		if g.WaitSeconds == 0 || s2.Sub(s1).Abs() > time.Second {
			ran[g.ID] = true
		}
	}
	return ran
}

func without(ids []int64, drop map[int64]bool) []int64 {
	return slices.DeleteFunc(ids, func(id int64) bool { return drop[id] })
}

// seenIDs are the ids of the snapshot's user goroutines gorigin says it saw before.
func seenIDs(s *snapshot.Snapshot) []int64 {
	var out []int64
	for _, g := range s.Goroutines {
		if g.SeenSeconds > 0 && !g.System {
			out = append(out, g.ID)
		}
	}
	slices.Sort(out)
	return out
}

func seenByStart(s *snapshot.Snapshot) map[string]int {
	n := map[string]int{}
	for _, g := range s.Goroutines {
		if g.SeenSeconds > 0 && g.Start != nil {
			n[g.Start.Func]++
		}
	}
	return n
}

// TestHistorySeen runs gorigin attach twice on the churn fixture, with /step between:
// the second look's seen goroutines are exactly those the runtime's own dumps after each
// look show blocked at the same place in both (the stay goroutines and the idle HTTP
// server; not the moved ones, the ended and new ones, nor the churn), less those whose
// g.waitsince shows that they ran in between, seen as long ago
// as the first look was taken. --no-history reads and writes nothing; a corrupt history
// is a warning; another process, or one that reuses the pid, has none.
func TestHistorySeen(t *testing.T) {
	fx := startChurn(t)
	cache := t.TempDir()
	env := []string{"XDG_CACHE_HOME=" + cache, "HOME=" + t.TempDir()}
	histFile := filepath.Join(cache, "gorigin", "history", strconv.Itoa(fx.Pid))

	if _, err := fx.get("/gc"); err != nil { // the runtime's wait figures, for ranBetween
		t.Fatal(err)
	}
	first, r := attachJSON(t, fx.Pid, env, "--stacks")
	a := fx.debug2(t)
	if first.Source.PreviousLook != nil || len(seenIDs(first)) != 0 {
		t.Fatalf("first look: previous look %v, %d seen; want none\n%s", first.Source.PreviousLook, len(seenIDs(first)), r.Stderr)
	}
	checkPrivateFile(t, histFile)

	if _, err := fx.get("/step"); err != nil {
		t.Fatal(err)
	}
	fx.settle(t, true)
	second, r := attachJSON(t, fx.Pid, env, "--stacks")
	b := fx.debug2(t)

	ran := ranBetween(first, second)
	t.Logf("the runtime's waitsince shows these ran between the looks: %v", ran)
	want, got := without(persisted(a, b), ran), seenIDs(second)
	if !slices.Equal(got, want) {
		t.Errorf("seen at the second look: %v\nthe runtime's dumps show these blocked at the same place at both: %v\nstderr: %s", got, want, r.Stderr)
	}
	if n := seenByStart(second); n["main.stay"] != 20 || n["main.mover"] != 0 || n["main.ender"] != 0 {
		t.Errorf("seen per start function %v: want 20 main.stay, no main.mover (moved), no main.ender (new ids)", n)
	}
	if p := second.Source.PreviousLook; p == nil || !p.Equal(first.Source.TakenAt) {
		t.Errorf("previous look %v, want the first look's time %v", p, first.Source.TakenAt)
	}
	gap := second.Source.TakenAt.Sub(first.Source.TakenAt).Seconds()
	for _, g := range second.Goroutines {
		if g.SeenSeconds > 0 && math.Abs(g.SeenSeconds-gap) > 1e-3 {
			t.Errorf("goroutine %d seen %vs ago, want the %vs between the looks", g.ID, g.SeenSeconds, gap)
			break
		}
	}

	// --no-history: no SEEN column, and the file is not rewritten.
	before, _ := os.ReadFile(histFile)
	r = runGorigin(t, env, "attach", strconv.Itoa(fx.Pid), "--no-history")
	after, _ := os.ReadFile(histFile)
	if r.Code != 0 || bytes.Contains(r.Stdout, []byte("SEEN")) || !bytes.Equal(before, after) {
		t.Errorf("--no-history: exit %d, SEEN shown %v, history rewritten %v\n%s", r.Code, bytes.Contains(r.Stdout, []byte("SEEN")), !bytes.Equal(before, after), r.Stdout)
	}

	// The table: SEEN beside WAITING, the stay group's 20 seen.
	r = runGorigin(t, env, "attach", strconv.Itoa(fx.Pid), "--stacks")
	if r.Code != 0 || !regexp.MustCompile(`WAITING\s+SEEN`).Match(r.Stdout) ||
		!regexp.MustCompile(`(?m)^\s*20\s.*main\.stay.*\s20 (\d+[smhd]|<1s) ago`).Match(r.Stdout) {
		t.Errorf("table: want SEEN after WAITING and the 20 stay goroutines seen:\n%s\n%s", r.Stdout, r.Stderr)
	}

	// A corrupt file: a warning, no figures, and a good file again afterwards.
	if err := os.WriteFile(histFile, []byte("gorigin history 1\n\xff\xff garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, r := attachJSON(t, fx.Pid, env)
	if !bytes.Contains(r.Stderr, []byte("warning: history file")) || s.Source.PreviousLook != nil || len(seenIDs(s)) != 0 {
		t.Errorf("corrupt history: stderr %q, previous look %v, %d seen; want a warning and none", r.Stderr, s.Source.PreviousLook, len(seenIDs(s)))
	}
	if s, _ = attachJSON(t, fx.Pid, env); len(seenIDs(s)) == 0 {
		t.Errorf("after a corrupt history was replaced, the next look sees nothing")
	}

	// Another process has no history; nor has one that reuses a pid whose file is there
	// (the file of fx copied under the other's pid: its start time differs).
	other := startChurn(t)
	good, _ := os.ReadFile(histFile)
	if err := os.WriteFile(filepath.Join(filepath.Dir(histFile), strconv.Itoa(other.Pid)), good, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, r := attachJSON(t, other.Pid, env); s.Source.PreviousLook != nil || len(seenIDs(s)) != 0 {
		t.Errorf("a process that reuses a pid: previous look %v, %d seen; want none\n%s", s.Source.PreviousLook, len(seenIDs(s)), r.Stderr)
	}

	// --no-history with an empty cache creates nothing.
	empty := t.TempDir()
	r = runGorigin(t, []string{"XDG_CACHE_HOME=" + empty}, "attach", strconv.Itoa(fx.Pid), "--no-history")
	if ents, _ := os.ReadDir(empty); r.Code != 0 || len(ents) != 0 {
		t.Errorf("--no-history: exit %d, cache holds %d entries; want 0 and none", r.Code, len(ents))
	}
	fx.checkAnswers(t)
}

// checkPrivateFile fails unless path is a regular file of mode 0600 in a 0700 directory.
func checkPrivateFile(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatalf("history file: %v", err)
	}
	di, err := os.Lstat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 || !di.IsDir() || di.Mode().Perm() != 0o700 {
		t.Errorf("history file mode %v in a directory of mode %v; want a regular 0600 file in a 0700 directory", fi.Mode(), di.Mode())
	}
}
