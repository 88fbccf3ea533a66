package integration

// Comparing gorigin's snapshot of the fixture with the runtime's own dump (the oracle)
// and with what the fixture's source says, go statement by go statement.

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/gorigin-dev/gorigin/integration/oracle"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// tester is the part of testing.TB the comparisons use, so that their own test can
// record what they report.
type tester interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// origin is a go statement as the runtime prints it under "created by".
type origin struct {
	File string
	Line int
}

func (o origin) String() string { return fmt.Sprintf("%s:%d", o.File, o.Line) }

// member is one goroutine reduced to what the comparisons look at.
type member struct {
	ID       int64
	ParentID int64
	Func     string // the creating function, as the runtime prints it (oracle.PrintName)
	State    string // the state as a traceback header shows it
	Start    string // the start function ("" when unknown)
	Locked   bool
	Labels   map[string]string
	Changed  bool // gorigin only: differed between the reads of a --freeze=never snapshot
}

type groups map[origin][]member

// oracleGroups groups the runtime's goroutines by the go statement that created them.
func oracleGroups(gs []oracle.Goroutine) groups {
	out := groups{}
	for _, g := range gs {
		if g.CreatedBy == nil {
			continue
		}
		o := origin{g.CreatedBy.File, g.CreatedBy.Line}
		out[o] = append(out[o], member{
			ID: g.ID, ParentID: g.ParentID, Func: g.CreatedBy.Func, State: g.Status,
			Start: g.StartFunc(), Locked: g.LockedToThread, Labels: g.Labels,
		})
	}
	return out
}

// goriginGroups groups gorigin's non-system goroutines by origin.
func goriginGroups(s *snapshot.Snapshot) groups {
	out := groups{}
	for _, g := range s.Goroutines {
		if g.System || g.Origin == nil {
			continue
		}
		o := origin{g.Origin.File, g.Origin.Line}
		m := member{
			ID: g.ID, ParentID: g.ParentID, Func: oracle.PrintName(g.Origin.Func), State: headerState(g),
			Locked: g.LockedToThread, Labels: g.Labels, Changed: g.Changed,
		}
		if g.Start != nil {
			m.Start = oracle.PrintName(g.Start.Func)
		}
		out[o] = append(out[o], m)
	}
	return out
}

// headerState is the state the runtime's traceback header would show for g: the wait
// reason of a waiting goroutine, else its status (runtime.goroutineheader).
func headerState(g snapshot.Goroutine) string {
	if g.Status == "waiting" && g.WaitReason != "" {
		return g.WaitReason
	}
	return string(g.Status)
}

// expectation is what the fixture's source says about one variant's goroutines.
type expectation struct {
	v        variant
	stmts    []goStatement
	byOrigin map[origin]goStatement // the go statements in fixture files
	files    map[string]bool        // fixture file names as the runtime prints them
	external []goStatement          // go statements outside the fixture that run its code
}

func expect(t testing.TB, v variant, extra int) *expectation {
	t.Helper()
	e := &expectation{v: v, byOrigin: map[origin]goStatement{}, files: map[string]bool{}}
	e.stmts = fixtureGoStatements(t, v.Cgo, extra)
	for _, s := range e.stmts {
		path := sourcePath(t, v, s.File)
		e.files[path] = true
		if s.External {
			e.external = append(e.external, s)
			continue
		}
		e.byOrigin[origin{path, s.Line}] = s
	}
	return e
}

// selected keeps the goroutines of the fixture: those created in its files, and those
// created elsewhere that start in package main (time.AfterFunc's).
func (e *expectation) selected(g groups) groups {
	out := groups{}
	for o, ms := range g {
		if e.files[o.File] {
			out[o] = ms
			continue
		}
		for _, m := range ms {
			if strings.HasPrefix(m.Start, "main.") {
				out[o] = append(out[o], m)
			}
		}
	}
	return out
}

// name is the marker name of a compared origin.
func (e *expectation) name(o origin) string {
	if s, ok := e.byOrigin[o]; ok {
		return s.Name
	}
	if !e.files[o.File] && len(e.external) == 1 {
		return e.external[0].Name + " (external)"
	}
	return "?"
}

// compareOptions adjusts compareWithOracle for how the snapshot was taken.
type compareOptions struct {
	// changedOK lists go statements whose goroutines gorigin may mark Changed (a
	// --freeze=never snapshot of busy goroutines); every other goroutine must not be.
	changedOK map[string]bool
}

// compareWithOracle checks gorigin's snapshot of a fixture against the runtime's dumps
// taken just before and just after it, and both against the fixture source.
func compareWithOracle(t tester, e *expectation, snap *snapshot.Snapshot, before, after []oracle.Goroutine, opts compareOptions) {
	t.Helper()
	orc := e.selected(oracleGroups(before))
	orcAfter := e.selected(oracleGroups(after))
	gor := e.selected(goriginGroups(snap))

	// The fixture's goroutines are stable; if the runtime's two dumps disagree the
	// comparison means nothing, whatever gorigin says.
	if diff := stableDiff(e, orc, orcAfter); diff != "" {
		t.Fatalf("the fixture changed between the runtime dumps taken before and after gorigin:\n%s", diff)
	}

	// The oracle against the source: every go statement is there with its count, and
	// nothing else is. This keeps the gorigin comparison from passing vacuously.
	checkRuntimeMatchesSource(t, e, orc)

	// gorigin's counts, origin by origin: exact.
	if table, ok := countTable(e, gor, orc); !ok {
		t.Errorf("goroutines per go statement differ (non-system goroutines of gorigin vs \"created by\" lines of the runtime):\n%s%s", table, otherOrigins(snap, e))
	}

	for o, om := range orc {
		gm := gor[o]
		name := e.name(o)
		stmt := e.byOrigin[o]

		// The creator's name. The runtime names the physical function that holds the
		// go statement; for a go statement in a helper the compiler inlined, gorigin may
		// name the helper instead (the innermost inlined frame at the go statement).
		allowed := map[string]bool{}
		for _, m := range om {
			allowed[m.Func] = true
		}
		if stmt.Name == inlineStatement {
			allowed[stmt.Func] = true
		}
		for _, m := range gm {
			if !allowed[m.Func] {
				t.Errorf("%s (%s): gorigin says goroutine %d was created by %q, the runtime by %v", o, name, m.ID, m.Func, keys(allowed))
				break
			}
		}

		// Wait states, as multisets; busy loops flip between running, runnable and sleep,
		// the accept loop between IO wait and runnable.
		if !restless(stmt.Name) {
			if gs, rs := stateCounts(gm), stateCounts(om); !reflect.DeepEqual(gs, rs) {
				t.Errorf("%s (%s): states differ: gorigin %v, runtime %v", o, name, gs, rs)
			}
		}

		// One go statement may start different functions (a spawn helper): gorigin must
		// split its goroutines by start function as the runtime's outermost frames do.
		// Names may differ (gorigin can see wrappers the traceback hides), the partition
		// may not.
		if rs := partition(om); rs != nil {
			if gs := partition(gm); !reflect.DeepEqual(gs, rs) {
				t.Errorf("%s (%s): goroutines per start function: gorigin %v, runtime %v", o, name, gs, rs)
			}
		}

		for _, m := range gm {
			if m.Changed && !opts.changedOK[stmt.Name] {
				t.Errorf("%s (%s): goroutine %d is marked changed, but it is blocked for good", o, name, m.ID)
			}
		}
	}

	compareByID(t, e, gor, orc)
	checkLabels(t, e, gor, orc)
}

// checkRuntimeMatchesSource checks the runtime's view of the fixture (selected groups)
// against the fixture's source: every go statement with its count, nothing else. A
// failure here is the fixture's or the oracle's, not gorigin's.
func checkRuntimeMatchesSource(t tester, e *expectation, orc groups) {
	t.Helper()
	var problems []string
	want := map[origin]int{}
	for o, s := range e.byOrigin {
		want[o] = s.Count
	}
	var externalOrigins []origin
	for o := range orc {
		if !e.files[o.File] {
			externalOrigins = append(externalOrigins, o)
		}
	}
	if len(externalOrigins) != len(e.external) {
		problems = append(problems, fmt.Sprintf("%d go statements outside the fixture start its functions, want %d (%v)", len(externalOrigins), len(e.external), externalOrigins))
	} else if len(e.external) == 1 {
		o := externalOrigins[0]
		want[o] = e.external[0].Count
		if !strings.HasSuffix(o.File, "time/sleep.go") {
			problems = append(problems, fmt.Sprintf("time.AfterFunc's goroutines are created at %v, want time/sleep.go", o))
		}
	}
	for o, n := range want {
		if len(orc[o]) != n {
			problems = append(problems, fmt.Sprintf("%s (%s): the runtime lists %d goroutines, the source says %d", o, e.name(o), len(orc[o]), n))
		}
	}
	for o := range orc {
		if _, ok := want[o]; !ok {
			problems = append(problems, fmt.Sprintf("%s: the runtime lists %d goroutines from a line the source does not mark", o, len(orc[o])))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		t.Fatalf("the runtime's dump does not match the fixture source (fix the fixture or the oracle, not gorigin):\n  %s", strings.Join(problems, "\n  "))
	}
}

// compareByID checks, goroutine by goroutine, what the runtime says about each:
// origin, parent (Go 1.21+) and thread lock.
func compareByID(t tester, e *expectation, gor, orc groups) {
	t.Helper()
	type seen struct {
		o origin
		m member
	}
	gByID := map[int64]seen{}
	for o, ms := range gor {
		for _, m := range ms {
			gByID[m.ID] = seen{o, m}
		}
	}
	var problems []string
	for o, ms := range orc {
		for _, om := range ms {
			g, ok := gByID[om.ID]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("goroutine %d (%s, %s) is missing", om.ID, o, e.name(o)))
				continue
			case g.o != o:
				problems = append(problems, fmt.Sprintf("goroutine %d: origin %s, the runtime says %s", om.ID, g.o, o))
			}
			if e.v.minor() >= 21 && g.m.ParentID != om.ParentID {
				problems = append(problems, fmt.Sprintf("goroutine %d (%s): parent %d, the runtime says %d", om.ID, e.name(o), g.m.ParentID, om.ParentID))
			}
			if e.v.minor() < 21 && g.m.ParentID != 0 {
				problems = append(problems, fmt.Sprintf("goroutine %d: parent %d, but %s does not record parents: it must be omitted", om.ID, g.m.ParentID, e.v.Toolchain))
			}
			if g.m.Locked != om.Locked {
				problems = append(problems, fmt.Sprintf("goroutine %d (%s): locked to thread %v, the runtime says %v", om.ID, e.name(o), g.m.Locked, om.Locked))
			}
		}
	}
	if len(problems) > 10 {
		problems = append(problems[:10], fmt.Sprintf("... and %d more", len(problems)-10))
	}
	if len(problems) > 0 {
		t.Errorf("goroutines differ from the runtime's, id by id:\n  %s", strings.Join(problems, "\n  "))
	}

	if e.v.minor() >= 21 {
		checkChain(t, e, gor, orc)
	}
}

// checkChain follows the recursion's parent links: a root created by the main goroutine,
// then each child created by the previous one, chainDepth in all, in both views.
func checkChain(t tester, e *expectation, gor, orc groups) {
	t.Helper()
	for _, side := range []struct {
		name string
		g    groups
	}{{"runtime", orc}, {"gorigin", gor}} {
		var roots, children []member
		for o, ms := range side.g {
			switch e.byOrigin[o].Name {
			case chainRoot:
				roots = append(roots, ms...)
			case chainChild:
				children = append(children, ms...)
			}
		}
		if len(roots) != 1 {
			t.Errorf("%s: %d recursion roots, want 1", side.name, len(roots))
			continue
		}
		byParent := map[int64]member{}
		for _, c := range children {
			byParent[c.ParentID] = c
		}
		depth, cur := 1, roots[0]
		for {
			c, ok := byParent[cur.ID]
			if !ok {
				break
			}
			depth, cur = depth+1, c
		}
		if depth != chainDepth || roots[0].ParentID == 0 {
			t.Errorf("%s: the recursion's parent links form a chain of %d from a root with parent %d, want %d from the main goroutine",
				side.name, depth, roots[0].ParentID, chainDepth)
		}
	}
}

// checkLabels: the pprof.Do goroutines carry the fixture's labels, the others none.
// Runtimes that print labels in tracebacks (Go 1.26+) must agree.
func checkLabels(t tester, e *expectation, gor, orc groups) {
	t.Helper()
	for _, side := range []struct {
		name string
		g    groups
	}{{"gorigin", gor}, {"runtime", orc}} {
		if side.name == "runtime" && e.v.minor() < 26 {
			continue // not shown in tracebacks
		}
		labeled := 0
		for o, ms := range side.g {
			for _, m := range ms {
				var want map[string]string
				if e.byOrigin[o].Name == labeledStmt {
					want = fixtureLabels
					labeled++
				}
				if len(m.Labels) != 0 || want != nil {
					if !reflect.DeepEqual(m.Labels, want) {
						t.Errorf("%s: goroutine %d (%s) has labels %v, want %v", side.name, m.ID, e.name(o), m.Labels, want)
					}
				}
			}
		}
		if labeled == 0 {
			t.Errorf("%s: no goroutine from the pprof.Do go statement", side.name)
		}
	}
}

// stableDiff compares two runtime dumps: counts of every origin, and states of all but
// the busy loops.
func stableDiff(e *expectation, a, b groups) string {
	var diffs []string
	for _, o := range unionOrigins(a, b) {
		if len(a[o]) != len(b[o]) {
			diffs = append(diffs, fmt.Sprintf("%s (%s): %d goroutines, then %d", o, e.name(o), len(a[o]), len(b[o])))
			continue
		}
		if restless(e.name(o)) {
			continue
		}
		if sa, sb := stateCounts(a[o]), stateCounts(b[o]); !reflect.DeepEqual(sa, sb) {
			diffs = append(diffs, fmt.Sprintf("%s (%s): states %v, then %v", o, e.name(o), sa, sb))
		}
	}
	return strings.Join(diffs, "\n")
}

// countTable renders origin → (gorigin count, oracle count) and says whether they all
// agree.
func countTable(e *expectation, gor, orc groups) (string, bool) {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "  origin\tgo statement\tgorigin\truntime\t")
	ok := true
	for _, o := range unionOrigins(gor, orc) {
		mark := ""
		if len(gor[o]) != len(orc[o]) {
			mark, ok = "  <--", false
		}
		fmt.Fprintf(w, "  %s\t%s\t%d\t%d\t%s\n", o, e.name(o), len(gor[o]), len(orc[o]), mark)
	}
	w.Flush()
	return b.String(), ok
}

// otherOrigins lists gorigin's busiest origins outside the comparison, to show where the
// fixture's goroutines went when they are missing.
func otherOrigins(snap *snapshot.Snapshot, e *expectation) string {
	all := goriginGroups(snap)
	sel := e.selected(all)
	var rest []string
	for o, ms := range all {
		if n := len(ms) - len(sel[o]); n > 0 {
			rest = append(rest, fmt.Sprintf("  %5d  %s (%s)", n, o, ms[0].Func))
		}
	}
	sort.Strings(rest)
	if len(rest) == 0 {
		return ""
	}
	if len(rest) > 15 {
		rest = rest[:15]
	}
	return "gorigin's other origins (non-system):\n" + strings.Join(rest, "\n")
}

func unionOrigins(a, b groups) []origin {
	set := map[origin]bool{}
	for o := range a {
		set[o] = true
	}
	for o := range b {
		set[o] = true
	}
	out := make([]origin, 0, len(set))
	for o := range set {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out
}

func stateCounts(ms []member) map[string]int {
	c := map[string]int{}
	for _, m := range ms {
		c[m.State]++
	}
	return c
}

// partition is the sorted sizes of ms grouped by start function, or nil when a start
// function is unknown.
func partition(ms []member) []int {
	c := map[string]int{}
	for _, m := range ms {
		if m.Start == "" {
			return nil
		}
		c[m.Start]++
	}
	var sizes []int
	for _, n := range c {
		sizes = append(sizes, n)
	}
	sort.Ints(sizes)
	return sizes
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
