package integration

// Text dumps and pprof endpoints as sources: the runtime's own debug=2, debug=1 and
// debug=0 goroutine profiles of a running fixture, and the traceback it prints when it
// gets SIGQUIT, read by gorigin's dump package and "gorigin dump", compared with the
// live snapshot of the same process (gorigin attach) and with the test oracle.

import (
	"bytes"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/dump"
	"github.com/gorigin-dev/gorigin/integration/oracle"
	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// dumpVariants are the toolchains whose dumps are compared: the oldest supported, the
// local one, the newest (labels in headers).
var dumpVariants = []variant{{Toolchain: "go1.20.14"}, {Toolchain: "go1.26.8"}, {Toolchain: "go1.27.3"}}

// TestDumpEndpoints fetches a fixture's debug=2, debug=1 and debug=0 goroutine profiles
// and compares what gorigin reads from them with gorigin's live snapshot of the same
// process and with the runtime's dump as the strict oracle reads it.
func TestDumpEndpoints(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	prebuild(fixtureDir(t), dumpVariants)
	for _, v := range dumpVariants {
		t.Run(v.String(), func(t *testing.T) {
			bin := fixtureBinary(t, v)
			e := expect(t, v, extraGoroutines)
			f := startFixture(t, bin, "-n", strconv.Itoa(extraGoroutines))
			text2, err := f.get("/debug/pprof/goroutine?debug=2")
			if err != nil {
				t.Fatal(err)
			}
			text1, err := f.get("/debug/pprof/goroutine?debug=1")
			if err != nil {
				t.Fatal(err)
			}
			proto, err := f.get("/debug/pprof/goroutine?debug=0")
			if err != nil {
				t.Fatal(err)
			}
			live, _ := attachJSON(t, f.Pid, nil)
			after := f.debug2(t)
			before, err := oracle.ParseBytes(text2)
			if err != nil {
				t.Fatal(err)
			}

			d2 := parseDump(t, text2)
			withLabels := d2
			if v.minor() < 26 {
				// Tracebacks show labels from Go 1.26 on; compareWithLive checks that the
				// dump has none before. Borrow the live ones for the oracle comparison,
				// which requires them of gorigin.
				withLabels = borrowLabels(d2, live)
			}
			compareWithOracle(t, e, withLabels, before, after, compareOptions{})
			compareWithLive(t, e, d2, live, false)

			// Through the command and its HTTP fetch: the same goroutines.
			viaCLI := dumpJSON(t, "http://"+f.Addr+"/debug/pprof/goroutine")
			compareWithLive(t, e, viaCLI, live, false)

			for _, p := range []struct {
				name string
				data []byte
				warn string
			}{{"debug=1", text1, dump.Debug1Warning}, {"debug=0", proto, dump.Debug0Warning}} {
				s := parseDump(t, p.data)
				if !slicesContain(s.Warnings, p.warn) {
					t.Errorf("%s: warnings %q lack the aggregated-profile warning", p.name, s.Warnings)
				}
				compareAggregated(t, e, p.name, s, live)
			}
		})
	}
}

// TestDumpSIGQUIT kills a fixture with SIGQUIT under GOTRACEBACK=crash (with system
// goroutines, gp/m headers, thread stacks and registers in the text) and reads its
// standard error as a dump, compared with the live snapshot taken just before.
func TestDumpSIGQUIT(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	prebuild(fixtureDir(t), dumpVariants)
	for _, v := range dumpVariants {
		t.Run(v.String(), func(t *testing.T) {
			bin := fixtureBinary(t, v)
			e := expect(t, v, extraGoroutines)
			t.Setenv("GOTRACEBACK", "crash")
			// No core file from the crash: the fixture runs under a shell that forbids one.
			f := startFixture(t, "/bin/sh", "-c", `ulimit -c 0 && exec "$0" "$@"`, bin, "-n", strconv.Itoa(extraGoroutines))
			before := f.debug2(t)
			live, _ := attachJSON(t, f.Pid, nil)
			after := f.debug2(t)
			if diff := stableDiff(e, e.selected(oracleGroups(before)), e.selected(oracleGroups(after))); diff != "" {
				t.Fatalf("the fixture changed around the live snapshot:\n%s", diff)
			}
			if err := syscall.Kill(f.Pid, syscall.SIGQUIT); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- f.cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("the fixture did not die of SIGQUIT within 30s")
			}
			text := f.stderr.String()
			if !strings.Contains(text, "SIGQUIT: quit") || !strings.Contains(text, "goroutine 0 ") {
				t.Fatalf("stderr after SIGQUIT is not a crash traceback:\n%.2000s", text)
			}
			d := parseDump(t, []byte(text))
			compareWithLive(t, e, d, live, true)
		})
	}
}

// panickerTraceback runs testdata/panicker built as v with GOTRACEBACK=all and returns
// its traceback ("panic: the workers are stuck", then every goroutine) and the oracle's
// reading of the goroutines in it.
func panickerTraceback(t *testing.T, v variant) ([]byte, []oracle.Goroutine) {
	t.Helper()
	run := exec.Command(programBinary(t, filepath.Join("testdata", "panicker"), v))
	run.Env = append(buildEnv(v), "GOTRACEBACK=all")
	var stderr bytes.Buffer
	run.Stderr = &stderr
	if err := run.Run(); err == nil {
		t.Fatal("the panicking program exited 0")
	}
	text := stderr.Bytes()
	i := bytes.Index(text, []byte("\ngoroutine "))
	if !bytes.HasPrefix(text, []byte("panic: the workers are stuck")) || i < 0 {
		t.Fatalf("want a panic traceback, got:\n%s", text)
	}
	orc, err := oracle.ParseBytes(text[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	return text, orc
}

// TestDumpPanic reads the traceback of a program that panics with GOTRACEBACK=all and
// compares it with the oracle's reading of the same text and with the go statements
// the program's source marks.
func TestDumpPanic(t *testing.T) {
	for _, v := range dumpVariants {
		t.Run(v.String(), func(t *testing.T) {
			text, orc := panickerTraceback(t, v)
			d := parseDump(t, text)
			if len(d.Goroutines) != len(orc) {
				t.Fatalf("%d goroutines, the oracle reads %d", len(d.Goroutines), len(orc))
			}
			workers := 0
			for j, o := range orc {
				g := d.Goroutines[j]
				if g.ID != o.ID || snapshot.StateText(g.Status, g.WaitReason) != o.Status || (o.CreatedBy == nil) != (g.Origin == nil) || g.ParentID != o.ParentID {
					t.Errorf("goroutine %d: %+v, the oracle reads %+v", o.ID, g, o)
					continue
				}
				if o.CreatedBy != nil && (g.Origin.Func != o.CreatedBy.Func || g.Origin.Line != o.CreatedBy.Line || g.Origin.File != o.CreatedBy.File) {
					t.Errorf("goroutine %d: origin %v, the oracle reads %+v", o.ID, g.Origin, o.CreatedBy)
				}
				if g.Origin != nil && g.Origin.Line == panicWorkerLine && strings.HasSuffix(g.Origin.File, "/main.go") {
					workers++
					if g.Status != "waiting" || g.WaitReason != "chan receive" || g.Start == nil || g.Start.Func != "main.worker" {
						t.Errorf("worker %d: %s, start %v; want chan receive in main.worker", g.ID, snapshot.StateText(g.Status, g.WaitReason), g.Start)
					}
				}
			}
			if workers != 3 {
				t.Errorf("%d goroutines from main.go:%d, the source starts 3", workers, panicWorkerLine)
			}
			if g := d.Goroutines[0]; g.ID != 1 || g.Status != "running" {
				t.Errorf("the panicking goroutine %d is %s, want goroutine 1 running", g.ID, g.Status)
			}
		})
	}
}

// testdata/panicker starts three workers at panicWorkerLine and panics.
const panicWorkerLine = 10

// parseDump reads data with the dump package and checks the snapshot's invariants.
func parseDump(t *testing.T, data []byte) *snapshot.Snapshot {
	t.Helper()
	s, err := dump.Parse(bytes.NewReader(data), dump.Options{})
	if err != nil {
		t.Fatalf("dump.Parse: %v\ninput starts: %.600s", err, data)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Source.Kind != "dump" {
		t.Errorf("source kind %q, want dump", s.Source.Kind)
	}
	for _, g := range s.Goroutines {
		if g.StackBytes != 0 {
			t.Fatalf("goroutine %d: stack bytes %d from a dump, which cannot know them", g.ID, g.StackBytes)
		}
	}
	return s
}

// dumpJSON runs "gorigin dump SOURCE --format json" and decodes its snapshot.
func dumpJSON(t *testing.T, src string) *snapshot.Snapshot {
	t.Helper()
	r := runGorigin(t, nil, "dump", src, "--format", "json")
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	s, err := snapshot.Decode(bytes.NewReader(r.Stdout))
	if err != nil {
		t.Fatalf("gorigin dump %s: %v", src, err)
	}
	return s
}

// compareWithLive requires the dump to say what the live snapshot says about each of
// the fixture's goroutines, id by id: state, wait reason, creator, parent, start,
// thread lock and labels. The busy loops' states flip and are not compared, nor their
// start when the dump has no stack for them. crash
// dumps show goroutines the live read took as running differently, so states of the
// running are left out there.
func compareWithLive(t *testing.T, e *expectation, d, live *snapshot.Snapshot, crash bool) {
	t.Helper()
	byID := map[int64]snapshot.Goroutine{}
	for _, g := range d.Goroutines {
		byID[g.ID] = g
	}
	var problems []string
	compared := 0
	for o, ms := range e.selected(goriginGroups(live)) {
		for _, m := range ms {
			g, ok := byID[m.ID]
			if !ok {
				problems = append(problems, fmt.Sprintf("goroutine %d (%s) is live but not in the dump", m.ID, e.name(o)))
				continue
			}
			compared++
			var got []string
			if g.Origin == nil || g.Origin.File != o.File || g.Origin.Line != o.Line || oracle.PrintName(g.Origin.Func) != m.Func {
				got = append(got, fmt.Sprintf("origin %v, live %s %s", g.Origin, m.Func, o))
			}
			if e.name(o) != busyStatement && headerState(g) != m.State {
				got = append(got, fmt.Sprintf("state %q, live %q", headerState(g), m.State))
			}
			if g.ParentID != m.ParentID {
				got = append(got, fmt.Sprintf("parent %d, live %d", g.ParentID, m.ParentID))
			}
			if g.LockedToThread != m.Locked {
				got = append(got, fmt.Sprintf("locked %v, live %v", g.LockedToThread, m.Locked))
			}
			// A busy goroutine running on another thread when the traceback was printed may
			// have no stack in it ("stack unavailable"), or one the crash signal cut short
			// (caught in time.now on the thread's stack): then the dump cannot know its start.
			if start := startName(g); start != m.Start && !(e.name(o) == busyStatement && g.Start == nil) {
				got = append(got, fmt.Sprintf("start %q, live %q", start, m.Start))
			}
			if (e.v.minor() >= 26 || len(g.Labels) > 0) && !maps.Equal(g.Labels, m.Labels) {
				got = append(got, fmt.Sprintf("labels %v, live %v", g.Labels, m.Labels))
			}
			if w := liveWait(live, m.ID); g.WaitSeconds > w+1 {
				got = append(got, fmt.Sprintf("waited %vs, more than the live %vs", g.WaitSeconds, w))
			}
			if len(got) > 0 {
				problems = append(problems, fmt.Sprintf("goroutine %d (%s): %s", m.ID, e.name(o), strings.Join(got, "; ")))
			}
		}
	}
	if compared < 30 {
		problems = append(problems, fmt.Sprintf("only %d fixture goroutines compared", compared))
	}
	sort.Strings(problems)
	if len(problems) > 12 {
		problems = append(problems[:12], fmt.Sprintf("... and %d more", len(problems)-12))
	}
	if len(problems) > 0 {
		t.Errorf("the dump differs from the live snapshot:\n  %s", strings.Join(problems, "\n  "))
	}
}

func startName(g snapshot.Goroutine) string {
	if g.Start == nil {
		return ""
	}
	return oracle.PrintName(g.Start.Func)
}

func liveWait(s *snapshot.Snapshot, id int64) float64 {
	for _, g := range s.Goroutines {
		if g.ID == id {
			return g.WaitSeconds
		}
	}
	return 0
}

// compareAggregated checks a debug=1 or debug=0 profile, which has no ids, states or
// creators, against the live snapshot: the same number of goroutines per start
// function and label set, for the fixture's start functions.
func compareAggregated(t *testing.T, e *expectation, name string, s, live *snapshot.Snapshot) {
	t.Helper()
	key := func(g snapshot.Goroutine) string {
		k := startName(g)
		if len(g.Labels) > 0 {
			k += fmt.Sprint(g.Labels)
		}
		return k
	}
	want := map[string]int{}
	for _, ms := range e.selected(goriginGroups(live)) {
		for _, m := range ms {
			k := m.Start
			if len(m.Labels) > 0 {
				k += fmt.Sprint(m.Labels)
			}
			want[k]++
		}
	}
	got := map[string]int{}
	for _, g := range s.Goroutines {
		if g.ID != 0 || g.Status != "unknown" || g.Origin != nil || g.ParentID != 0 {
			t.Fatalf("%s: goroutine %+v claims what an aggregated profile cannot know", name, g)
		}
		if _, ok := want[key(g)]; ok {
			got[key(g)]++
		}
	}
	if len(want) < 10 || !maps.Equal(got, want) {
		t.Errorf("%s: goroutines per start function and labels:\n got %v\nwant %v (live)", name, got, want)
	}
}

func slicesContain(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// borrowLabels is a copy of d with the labels of the same goroutines in live.
func borrowLabels(d, live *snapshot.Snapshot) *snapshot.Snapshot {
	labels := map[int64]map[string]string{}
	for _, g := range live.Goroutines {
		labels[g.ID] = g.Labels
	}
	c := *d
	c.Goroutines = append([]snapshot.Goroutine(nil), d.Goroutines...)
	for i := range c.Goroutines {
		c.Goroutines[i].Labels = labels[c.Goroutines[i].ID]
	}
	return &c
}
