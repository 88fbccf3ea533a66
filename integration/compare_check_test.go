package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/integration/oracle"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestComparisonsCatchMismatches checks the checker: a snapshot made from the runtime's
// own dump passes compareWithOracle, and each kind of wrong answer gorigin could give
// fails it. It needs neither gorigin nor ptrace.
func TestComparisonsCatchMismatches(t *testing.T) {
	v := hostVariant(t)
	e := expect(t, v, extraGoroutines)
	f := startFixture(t, fixtureBinary(t, v), "-n", fmt.Sprint(extraGoroutines))
	dump := f.debug2(t)

	faithful := snapshotFromRuntime(e, dump)
	if errs := recordCompare(e, faithful, dump); len(errs) > 0 {
		t.Fatalf("a snapshot copied from the runtime's dump fails the comparison:\n%s", strings.Join(errs, "\n"))
	}

	mutations := []struct {
		name   string
		stmt   string // the go statement whose goroutines are changed
		mutate func(gs []*snapshot.Goroutine, s *snapshot.Snapshot)
		minGo  int // lowest Go minor version the mutation is visible in
	}{
		{"a goroutine missing", "plain", func(gs []*snapshot.Goroutine, s *snapshot.Snapshot) { drop(s, gs[0].ID) }, 0},
		{"a goroutine too many", "sleeper", func(gs []*snapshot.Goroutine, s *snapshot.Snapshot) {
			g := *gs[0]
			g.ID = 1 << 40
			s.Goroutines = append(s.Goroutines, g)
		}, 0},
		{"origin off by a line", "sleeper", func(gs []*snapshot.Goroutine, _ *snapshot.Snapshot) { gs[0].Origin.Line++ }, 0},
		{"wrong creator", "method-value", func(gs []*snapshot.Goroutine, _ *snapshot.Snapshot) { gs[0].Origin.Func = "main.other" }, 0},
		{"wrong wait reason", "closure-mutex", func(gs []*snapshot.Goroutine, _ *snapshot.Snapshot) { gs[0].WaitReason = "chan receive" }, 0},
		{"wrong status", "syscall-read", func(gs []*snapshot.Goroutine, _ *snapshot.Snapshot) { gs[0].Status = "runnable" }, 0},
		{"wrong parent", chainChild, func(gs []*snapshot.Goroutine, _ *snapshot.Snapshot) { gs[0].ParentID++ }, 21},
		{"lost labels", labeledStmt, func(gs []*snapshot.Goroutine, _ *snapshot.Snapshot) { gs[0].Labels = nil }, 0},
		{"labels on the wrong goroutine", "plain", func(gs []*snapshot.Goroutine, _ *snapshot.Snapshot) { gs[0].Labels = fixtureLabels }, 0},
		{"user goroutine marked system", "select-no-cases", func(gs []*snapshot.Goroutine, _ *snapshot.Snapshot) { gs[0].System = true }, 0},
		{"spawn helper tasks merged", "spawn-helper", func(gs []*snapshot.Goroutine, _ *snapshot.Snapshot) {
			for _, g := range gs {
				g.Start = &snapshot.Location{Func: "main.task"}
			}
		}, 0},
		{"lock to thread missed", "locked-thread", func(gs []*snapshot.Goroutine, _ *snapshot.Snapshot) { gs[0].LockedToThread = false }, 0},
		{"blocked goroutine marked changed", "waitgroup", func(gs []*snapshot.Goroutine, _ *snapshot.Snapshot) { gs[0].Changed = true }, 0},
		{"afterfunc goroutine missing", "afterfunc", func(gs []*snapshot.Goroutine, s *snapshot.Snapshot) { drop(s, gs[0].ID) }, 0},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			if v.minor() < m.minGo {
				t.Skipf("%s does not show this", v.Toolchain)
			}
			s := snapshotFromRuntime(e, dump)
			gs := byStatement(e, s, m.stmt)
			if len(gs) == 0 {
				t.Fatalf("no goroutines from go statement %q to change", m.stmt)
			}
			m.mutate(gs, s)
			errs := recordCompare(e, s, dump)
			if len(errs) == 0 {
				t.Fatalf("the comparison does not notice")
			}
			t.Logf("reported: %s", errs[0])
		})
	}
}

// snapshotFromRuntime builds the snapshot a perfect gorigin would produce, from the
// runtime's dump.
func snapshotFromRuntime(e *expectation, gs []oracle.Goroutine) *snapshot.Snapshot {
	s := &snapshot.Snapshot{Schema: snapshot.Schema, Source: snapshot.Source{Kind: "dump", Backend: "text"}}
	for _, g := range gs {
		sg := snapshot.Goroutine{ID: g.ID, ParentID: g.ParentID, LockedToThread: g.LockedToThread, Labels: g.Labels, Status: snapshot.Status(g.Status)}
		if !sg.Status.Known() {
			sg.Status, sg.WaitReason = "waiting", g.Status
		}
		if g.CreatedBy != nil {
			sg.Origin = &snapshot.Location{Func: g.CreatedBy.Func, File: g.CreatedBy.File, Line: g.CreatedBy.Line}
			if e.byOrigin[origin{g.CreatedBy.File, g.CreatedBy.Line}].Name == labeledStmt && sg.Labels == nil {
				sg.Labels = fixtureLabels // runtimes before Go 1.26 do not print labels
			}
		}
		if start := g.StartFunc(); start != "" {
			sg.Start = &snapshot.Location{Func: start}
		}
		s.Goroutines = append(s.Goroutines, sg)
	}
	return s
}

// byStatement is the goroutines of s created by the named go statement.
func byStatement(e *expectation, s *snapshot.Snapshot, name string) []*snapshot.Goroutine {
	var out []*snapshot.Goroutine
	for i := range s.Goroutines {
		g := &s.Goroutines[i]
		if g.Origin == nil {
			continue
		}
		o := origin{g.Origin.File, g.Origin.Line}
		if e.name(o) == name || e.name(o) == name+" (external)" && g.Start != nil && strings.HasPrefix(g.Start.Func, "main.") {
			out = append(out, g)
		}
	}
	return out
}

func drop(s *snapshot.Snapshot, id int64) {
	for i, g := range s.Goroutines {
		if g.ID == id {
			s.Goroutines = append(s.Goroutines[:i], s.Goroutines[i+1:]...)
			return
		}
	}
}

// recordCompare runs compareWithOracle and returns what it reported.
func recordCompare(e *expectation, s *snapshot.Snapshot, dump []oracle.Goroutine) []string {
	r := &recorder{}
	func() {
		defer func() {
			if p := recover(); p != nil && p != r {
				panic(p)
			}
		}()
		compareWithOracle(r, e, s, dump, dump, compareOptions{})
	}()
	return r.errs
}

// recorder is a tester that keeps what it is told; Fatalf ends the comparison.
type recorder struct{ errs []string }

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(r)
}
