package integration

// START is the function a go statement started, never the compiler's wrapper: for every
// parked goroutine of the fixture (wrapped.go has go statements whose wrapper calls its
// function directly, through a func value and through an interface), gorigin's start
// function must be the outermost frame of the runtime's own traceback of the same
// goroutine id, in attach's JSON and text, from a core, and in the DAP thread list; and
// a diff of a runtime dump with an attach made at the same moment must show no growth.

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/integration/oracle"
	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// startVariants: before go statement wrappers were named gowrapN (Go 1.20), the first
// release with them (Go 1.22, as PIE), the local release and the newest.
var startVariants = []variant{{Toolchain: "go1.20.14"}, {Toolchain: "go1.22.12", PIE: true}, {Toolchain: "go1.26.8"}, {Toolchain: "go1.27.3"}}

// wrappedStatements are the go statements of wrapped.go.
var wrappedStatements = []string{"closure-defer-args", "closure-defer-nocapture", "func-value", "interface-method", "method-value-var", "generic-defer"}

// parkedStarts is the start function, by goroutine id, of the goroutines created by a go
// statement that both runtime dumps show parked, in the same state and with the same
// outermost frame.
func parkedStarts(before, after []oracle.Goroutine) map[int64]string {
	later := map[int64]oracle.Goroutine{}
	for _, g := range after {
		later[g.ID] = g
	}
	out := map[int64]string{}
	for _, g := range before {
		a, ok := later[g.ID]
		switch {
		case !ok, g.CreatedBy == nil, g.StartFunc() == "", g.Status == "running", g.Status == "runnable",
			a.Status != g.Status, a.StartFunc() != g.StartFunc():
			continue
		}
		out[g.ID] = g.StartFunc()
	}
	return out
}

// checkStarts compares the start functions of a snapshot with want, goroutine by id, and
// requires every goroutine of wrapped.go's go statements to be compared.
func checkStarts(t *testing.T, who string, e *expectation, snap *snapshot.Snapshot, want map[int64]string) {
	t.Helper()
	perStmt := map[string]int{}
	compared := 0
	for _, g := range snap.Goroutines {
		if g.Start != nil && gowrapRE.MatchString(g.Start.Func) {
			t.Errorf("%s: goroutine %d starts in %s, a go statement's wrapper", who, g.ID, g.Start.Func)
		}
		w, ok := want[g.ID]
		if !ok {
			continue
		}
		compared++
		if g.Origin != nil {
			perStmt[e.name(origin{g.Origin.File, g.Origin.Line})]++
		}
		if g.Start == nil || oracle.PrintName(g.Start.Func) != w {
			t.Errorf("%s: goroutine %d (%s) starts in %v, the runtime's traceback in %s", who, g.ID, describe(g), g.Start, w)
		}
	}
	for _, s := range e.stmts {
		for _, name := range wrappedStatements {
			if s.Name == name && perStmt[name] != s.Count {
				t.Errorf("%s: %d goroutines of %s compared, want all %d", who, perStmt[name], name, s.Count)
			}
		}
	}
	t.Logf("%s: %d start functions compared", who, compared)
}

var gowrapRE = regexp.MustCompile(`\.gowrap\d+$`)

// originRowRE is a row of attach's default table: the go statement's file:line, START,
// WAITING, SEEN (from a second look at the process on: "-" or "12 3m ago"), STACK and the
// example ids.
var originRowRE = regexp.MustCompile(`^\s*\d+\s.*\s\S+:\d+\s+(\S+)\s+\S+\s+(?:(?:-|[\d,]+ \S+ ago)\s+)?\S+\s+([\d ]+)$`)

// startVariantsOfRun is startVariants (the host's alone under -short), prebuilt.
func startVariantsOfRun(t *testing.T) []variant {
	vs := startVariants
	if testing.Short() {
		vs = []variant{hostVariant(t)}
	}
	prebuild(fixtureDir(t), vs)
	return vs
}

func TestStartIsWrappedFunction(t *testing.T) {
	testenv.NeedPtrace(t)
	needGorigin(t)
	for _, v := range startVariantsOfRun(t) {
		t.Run(v.String(), func(t *testing.T) {
			e := expect(t, v, 0)
			f := startFixture(t, fixtureBinary(t, v))
			pid := strconv.Itoa(f.Pid)
			before := f.debug2(t)
			snap, _ := attachJSON(t, f.Pid, nil, "--system")
			text := runGorigin(t, nil, "attach", pid)
			core := coreJSON(t, gcore(t, f.Pid, t.TempDir()), f.Pid, "--system")
			after := f.debug2(t)
			want := parkedStarts(before, after)

			checkStarts(t, "attach", e, snap, want)
			checkStarts(t, "core", e, core, want)

			if text.Code != 0 {
				t.Fatalf("%v", text)
			}
			rows := 0
			for _, line := range strings.Split(string(text.Stdout), "\n") {
				m := originRowRE.FindStringSubmatch(line)
				if m == nil {
					continue
				}
				for _, id := range strings.Fields(m[2]) {
					n, _ := strconv.ParseInt(id, 10, 64)
					if w, ok := want[n]; ok {
						rows++
						if oracle.PrintName(m[1]) != w {
							t.Errorf("attach text: goroutine %d in a row with START %s, the runtime's traceback starts it in %s:\n%s", n, m[1], w, line)
						}
					}
				}
			}
			if rows < len(wrappedStatements) {
				t.Errorf("attach text: only %d example goroutines compared\n%s", rows, text.Stdout)
			}
			checkRuntimeWrappers(t, snap)
		})
	}
}

// checkRuntimeWrappers: the runtime's own go statements with arguments (gcenable's `go
// bgsweep(c)` and `go bgscavenge(c)`, in runtime/mgc.go of every release) start through
// wrappers too; the runtime hides those goroutines from debug=2, so the source is the oracle.
func checkRuntimeWrappers(t *testing.T, snap *snapshot.Snapshot) {
	t.Helper()
	seen := map[string]bool{}
	for _, g := range snap.Goroutines {
		if g.System && g.Origin != nil && g.Origin.Func == "runtime.gcenable" && g.Start != nil {
			seen[g.Start.Func] = true
		}
	}
	if !seen["runtime.bgsweep"] || !seen["runtime.bgscavenge"] || len(seen) != 2 {
		t.Errorf("goroutines created by runtime.gcenable start in %v, want runtime.bgsweep and runtime.bgscavenge", seen)
	}
}

// TestStartDiffDumpAttach: a debug=2 dump names the functions the wrappers call, and so
// must attach: diffing a dump with an attach of the same moment (a stable fixture) shows
// no group of the fixture grown or shrunk.
func TestStartDiffDumpAttach(t *testing.T) {
	testenv.NeedPtrace(t)
	needGorigin(t)
	for _, v := range startVariantsOfRun(t) {
		t.Run(v.String(), func(t *testing.T) {
			e := expect(t, v, 0)
			f := startFixture(t, fixtureBinary(t, v))
			saved := filepath.Join(t.TempDir(), "dump.json")
			if r := runGorigin(t, nil, "dump", "http://"+f.Addr+"/debug/pprof/goroutine", "--format", "json", "-o", saved); r.Code != 0 {
				t.Fatalf("%v", r)
			}
			r := runGorigin(t, nil, "diff", saved, strconv.Itoa(f.Pid), "--format", "json")
			if r.Code != 0 {
				t.Fatalf("%v", r)
			}
			var d snapshot.Diff
			if err := json.Unmarshal(r.Stdout, &d); err != nil {
				t.Fatalf("diff --format json: %v\n%s", err, r.Stdout)
			}
			wrapped := 0
			for _, g := range d.Groups {
				if g.Origin == nil || !e.files[g.Origin.File] {
					continue
				}
				name := e.name(origin{g.Origin.File, g.Origin.Line})
				if slices.Contains(wrappedStatements, name) {
					wrapped += g.After
				}
				if g.Delta != 0 && !restless(name) {
					t.Errorf("%s (%s): %d before, %d after, started in %v", g.Key, name, g.Before, g.After, g.Start)
				}
			}
			want := 0
			for _, s := range e.stmts {
				if slices.Contains(wrappedStatements, s.Name) {
					want += s.Count
				}
			}
			if wrapped != want {
				t.Errorf("the diff has %d goroutines of wrapped.go's go statements, the source says %d", wrapped, want)
			}
		})
	}
}

// TestStartDAPThreads: the DAP thread of each goroutine is named after the function its
// go statement started, as the runtime's traceback of that goroutine id shows it.
func TestStartDAPThreads(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	v := hostVariant(t)
	f := startFixture(t, fixtureBinary(t, v))
	before := f.debug2(t)
	c, _ := dapStdio(t)
	c.Handshake("attach", map[string]any{"processId": f.Pid})
	threads := c.Threads()
	after := f.debug2(t)
	want := parkedStarts(before, after)
	checked := 0
	for _, th := range threads {
		m := parentRE.FindStringSubmatch(th.Name)
		if m == nil {
			t.Fatalf("thread %q: want one thread per goroutine below the threshold", th.Name)
		}
		id, _ := strconv.ParseInt(m[1], 10, 64)
		w, ok := want[id]
		if !ok {
			continue
		}
		checked++
		fields := strings.Fields(th.Name)
		if got := oracle.PrintName(fields[len(fields)-1]); got != w {
			t.Errorf("thread %q: starts in %s, the runtime's traceback of goroutine %d in %s", th.Name, got, id, w)
		}
	}
	if checked < 50 {
		t.Errorf("only %d threads compared", checked)
	}
	c.Call("disconnect", map[string]any{"terminateDebuggee": false})
}
