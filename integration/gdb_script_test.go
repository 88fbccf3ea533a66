package integration

import (
	"context"
	"maps"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/integration/oracle"
	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// goroutinesByOriginRow is a row of the goroutines-by-origin table:
// COUNT STATE FUNC FILE:LINE START EXAMPLES.
var goroutinesByOriginRow = regexp.MustCompile(`^\s*(\d+)\s.*\s(\S+)\s+(\S+):(\d+)\s+(\S+)\s+[\d ]+$`)

// scriptVariants are the builds the debugger-script tests use: the oldest and newest
// toolchains and the local one (the local one only with -short).
var scriptVariants = []variant{{Toolchain: "go1.20.14"}, {Toolchain: "go1.26.8"}, {Toolchain: "go1.27.3"}}

// TestGDBScriptGoroutinesByOrigin runs scripts/gorigin_gdb.py inside the real gdb against
// the fixture and compares its per-origin counts with the runtime's debug=2 dump.
func TestGDBScriptGoroutinesByOrigin(t *testing.T) {
	testenv.NeedPtrace(t)
	gdb := needGDB(t)
	script := gdbScript(t)
	vs := scriptVariants
	if testing.Short() {
		vs = []variant{hostVariant(t)}
	}
	prebuild(fixtureDir(t), vs)
	for _, v := range vs {
		t.Run(v.String(), func(t *testing.T) {
			e := expect(t, v, extraGoroutines)
			f := startFixture(t, fixtureBinary(t, v), "-n", strconv.Itoa(extraGoroutines))
			before := f.debug2(t)
			out := runGDBScript(t, gdb, "-p", strconv.Itoa(f.Pid), "-x", script, "-ex", "goroutines-by-origin")
			testenv.CheckRunsFreely(t, f.Pid, 100*time.Millisecond)
			checkNoGDBLeft(t, f.Pid)
			after := f.debug2(t)
			f.checkAnswers(t)
			checkTableCounts(t, e, "goroutines-by-origin", out, before, after, true)
		})
	}
}

// gdbScript is the absolute path of scripts/gorigin_gdb.py.
func gdbScript(t testing.TB) string {
	t.Helper()
	script, err := filepath.Abs("../scripts/gorigin_gdb.py")
	if err != nil {
		t.Fatal(err)
	}
	return script
}

// runGDBScript runs gdb -batch with nothing auto-loaded and args, and returns its output.
func runGDBScript(t testing.TB, gdb string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append([]string{"-batch", "-nx", "-iex", "set debuginfod enabled off", "-iex", "set auto-load no"}, args...)
	out, err := exec.CommandContext(ctx, gdb, argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("gdb %s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// tableRows reads a grouped table (gorigin_gdb.py's or gorigin.star's): the COUNT column
// summed by the go statement's file:line, and the START column's functions (as the
// runtime prints them) of each.
func tableRows(out string) (map[origin]int, map[origin]map[string]bool) {
	counts, starts := map[origin]int{}, map[origin]map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		m := goroutinesByOriginRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		l, _ := strconv.Atoi(m[4])
		o := origin{m[3], l}
		counts[o] += n
		if starts[o] == nil {
			starts[o] = map[string]bool{}
		}
		starts[o][oracle.PrintName(m[5])] = true
	}
	return counts, starts
}

// checkTableCounts compares a grouped table's per-go-statement counts with the runtime's
// dump (before and after; go statements whose count changed in between are not compared)
// and, with checkStart, its start functions with the outermost frames of the runtime's
// tracebacks.
func checkTableCounts(t *testing.T, e *expectation, who, out string, before, after []oracle.Goroutine, checkStart bool) {
	t.Helper()
	got, starts := tableRows(out)
	checkColumnsAligned(t, who, out)
	orc, orcAfter := e.selected(oracleGroups(before)), e.selected(oracleGroups(after))
	if len(orc) == 0 {
		t.Fatal("the oracle shows no fixture goroutines")
	}
	compared := 0
	for o, ms := range orc {
		name := e.name(o)
		if len(ms) != len(orcAfter[o]) {
			t.Logf("%s (%s): %d goroutines before, %d after: not compared", name, o, len(ms), len(orcAfter[o]))
			continue
		}
		compared++
		if got[o] != len(ms) {
			t.Errorf("%s (%s): %s counts %d, the runtime %d", name, o, who, got[o], len(ms))
		}
		want := map[string]bool{}
		for _, m := range ms {
			want[m.Start] = true
		}
		if checkStart && !want[""] && !maps.Equal(want, starts[o]) {
			t.Errorf("%s (%s): %s says started in %v, the runtime %v", name, o, who, slices.Sorted(maps.Keys(starts[o])), slices.Sorted(maps.Keys(want)))
		}
	}
	for o, n := range e.selected(groupsOfCounts(got)) {
		if _, ok := orc[o]; !ok {
			t.Errorf("%s (%s): %s counts %d, the runtime none", e.name(o), o, who, len(n))
		}
	}
	if compared < 10 {
		t.Errorf("only %d go statements compared", compared)
	}
	if t.Failed() {
		t.Logf("%s output:\n%s", who, out)
	}
}

// groupsOfCounts turns counts into groups (of empty members) so that e.selected applies.
func groupsOfCounts(c map[origin]int) groups {
	out := groups{}
	for o, n := range c {
		out[o] = make([]member, n)
	}
	return out
}
