package integration

// Leak analysis: gorigin leaks on the leak fixture, live and on cores, for the oldest,
// the local and the newest toolchain. The oracle is the fixture's source: every go
// statement is marked "// LEAK name count" (each goroutine it starts is leaked) or
// "// NOLEAK name" (none is). gorigin must find every leak and call nothing else leaked.

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// leakVariants are the toolchains the leak tests build the fixture with.
var leakVariants = []variant{
	{Toolchain: "go1.20.14"},
	{Toolchain: "go1.26.8"},
	{Toolchain: "go1.27.3", PIE: true},
}

func leakFixtureDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "leakfixture"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// leakMarker is one marked go statement of the leak fixture.
type leakMarker struct {
	name  string
	line  int
	leak  bool
	count int // goroutines it starts (LEAK markers)
}

var leakMarkerRE = regexp.MustCompile(`\bgo\b.*//\s*(LEAK|NOLEAK)\s+(\S+)(?:\s+(\d+))?\s*$`)

// leakMarkers reads the fixture's markers by line; a go statement without one fails.
func leakMarkers(t testing.TB, dir string) map[int]leakMarker {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]leakMarker{}
	goStmt := regexp.MustCompile(`^\s*go\s`)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		m := leakMarkerRE.FindStringSubmatch(text)
		if m == nil {
			if goStmt.MatchString(text) {
				t.Fatalf("leakfixture/main.go:%d: go statement without a LEAK or NOLEAK marker: %s", line, text)
			}
			continue
		}
		mk := leakMarker{name: m[2], line: line, leak: m[1] == "LEAK"}
		if mk.leak {
			mk.count, _ = strconv.Atoi(m[3])
			if mk.count <= 0 {
				t.Fatalf("leakfixture/main.go:%d: LEAK marker without a count", line)
			}
		}
		out[line] = mk
	}
	return out
}

// checkLeaks compares a snapshot with leak verdicts against the markers: every
// goroutine has a verdict; each LEAK statement's goroutines are all there and leaked;
// nothing else is leaked (the runtime's goroutines, net/http's, the NOLEAK statements').
func checkLeaks(t *testing.T, snap *snapshot.Snapshot, markers map[int]leakMarker, dir string) {
	t.Helper()
	main := filepath.Join(dir, "main.go")
	leaked := map[int]int{} // marker line → leaked goroutines
	seen := map[int]int{}
	total := 0
	for _, g := range snap.Goroutines {
		if g.Leak == "" {
			t.Errorf("goroutine %d (%s) has no leak verdict", g.ID, describe(g))
			continue
		}
		if g.Origin == nil || g.Origin.File != main {
			if g.Leak == "leaked" {
				t.Errorf("FALSE POSITIVE: goroutine %d (%s), outside the fixture's go statements, is called leaked", g.ID, describe(g))
			}
			continue
		}
		mk, ok := markers[g.Origin.Line]
		if !ok {
			t.Errorf("goroutine %d was made at main.go:%d, which has no marker", g.ID, g.Origin.Line)
			continue
		}
		seen[mk.line]++
		if g.Leak == "leaked" {
			leaked[mk.line]++
			total++
			if !mk.leak {
				t.Errorf("FALSE POSITIVE: goroutine %d of NOLEAK %s (main.go:%d, %s) is called leaked", g.ID, mk.name, mk.line, describe(g))
			}
		}
	}
	want := 0
	lines := make([]int, 0, len(markers))
	for l := range markers {
		lines = append(lines, l)
	}
	sort.Ints(lines)
	for _, l := range lines {
		mk := markers[l]
		if !mk.leak {
			continue
		}
		want += mk.count
		if seen[l] != mk.count || leaked[l] != mk.count {
			t.Errorf("LEAK %s (main.go:%d): %d goroutines, %d called leaked; want %d leaked", mk.name, l, seen[l], leaked[l], mk.count)
		}
	}
	if t.Failed() && snap.Source.Kind == "live" {
		r := runGorigin(t, []string{"GORIGIN_LEAKS_EXPLAIN=1"}, "leaks", strconv.Itoa(snap.Source.Pid), "--all")
		t.Logf("gorigin leaks --all now says:\n%s\n%s", r.Stdout, r.Stderr)
	}
	if want == 0 || total == 0 {
		t.Fatalf("no leak expected or found: the test would pass vacuously")
	}
	t.Logf("%d leaked goroutines found, %d expected, in %d goroutines", total, want, len(snap.Goroutines))
}

// leaksJSON runs gorigin leaks on a pid or core and decodes its snapshot.
func leaksJSON(t *testing.T, target string, flags ...string) (*snapshot.Snapshot, *goriginRun) {
	t.Helper()
	args := append([]string{"leaks", target, "--format", "json"}, flags...)
	r := runGorigin(t, nil, args...)
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	snap, err := snapshot.Decode(bytes.NewReader(r.Stdout))
	if err != nil {
		t.Fatalf("gorigin %s: %v\nstdout starts: %.400s", strings.Join(args, " "), err, r.Stdout)
	}
	t.Logf("gorigin leaks %s: %v", filepath.Base(target), r.Elapsed.Round(time.Millisecond))
	return snap, r
}

// TestLeaksLive runs gorigin leaks on the live fixture built by each toolchain (the local
// one only with -short), then attach --leaks on the local one, and requires the target
// to run freely afterwards.
func TestLeaksLive(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	dir := leakFixtureDir(t)
	markers := leakMarkers(t, dir)
	vs := leakVariants
	if testing.Short() {
		vs = []variant{hostVariant(t)}
	}
	prebuild(dir, vs)
	for _, v := range vs {
		t.Run(v.String(), func(t *testing.T) {
			bin := programBinary(t, dir, v)
			f := startFixture(t, bin)
			snap, _ := leaksJSON(t, strconv.Itoa(f.Pid))
			testenv.CheckRunsFreely(t, f.Pid, time.Second)
			checkLeaks(t, snap, markers, dir)
			if v == hostVariant(t) {
				withFlag, _ := attachJSON(t, f.Pid, nil, "--leaks")
				checkLeaks(t, withFlag, markers, dir)
			}
		})
	}
}

// TestLeaksCore runs gorigin leaks on a gcore core of the local toolchain's fixture (of
// every toolchain's with -gorigin.full or GORIGIN_FULL=1) and on a kernel core.
func TestLeaksCore(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	dir := leakFixtureDir(t)
	markers := leakMarkers(t, dir)
	vs := []variant{hostVariant(t)}
	if *fullMatrix || os.Getenv("GORIGIN_FULL") == "1" {
		vs = leakVariants
	}
	prebuild(dir, vs)
	for _, v := range vs {
		t.Run(v.String(), func(t *testing.T) {
			bin := programBinary(t, dir, v)
			t.Run("gcore", func(t *testing.T) {
				f := startFixture(t, bin)
				path := gcore(t, f.Pid, t.TempDir())
				testenv.CheckRunsFreely(t, f.Pid, time.Second)
				snap, _ := leaksJSON(t, path)
				checkLeaks(t, snap, markers, dir)
			})
			t.Run("kernel", func(t *testing.T) {
				k := startCrashing(t, bin)
				path := k.crash(t)
				snap, _ := leaksJSON(t, path, "--exe", bin)
				checkLeaks(t, snap, markers, dir)
			})
		})
	}
}

// TestLeaksCoverRuntimeProfile builds the fixture with GOEXPERIMENT=goroutineleakprofile
// (Go 1.26), asks the runtime for its own goroutineleak profile, and requires gorigin's
// leaked set to include every goroutine the runtime found leaked.
func TestLeaksCoverRuntimeProfile(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	dir := leakFixtureDir(t)
	markers := leakMarkers(t, dir)
	bin := testenv.Binary(t, testenv.Build{Dir: dir, Toolchain: testenv.Host, Env: []string{"CGO_ENABLED=0", "GOEXPERIMENT=goroutineleakprofile"}})
	f := startFixture(t, bin)
	body, err := f.get("/debug/pprof/goroutineleak?debug=2")
	if err != nil {
		t.Fatalf("the runtime's goroutineleak profile: %v", err)
	}
	runtimeLeaked := map[int64]string{}
	header := regexp.MustCompile(`(?m)^goroutine (\d+) (?:gp=\S+ m=\S+ (?:mp=\S+ )?)?\[([^\]]*\(leaked\)[^\]]*)\]`)
	for _, m := range header.FindAllStringSubmatch(string(body), -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		runtimeLeaked[id] = m[2]
	}
	if len(runtimeLeaked) == 0 {
		t.Fatalf("the runtime's goroutineleak profile lists no leaked goroutine:\n%.2000s", body)
	}
	snap, _ := leaksJSON(t, strconv.Itoa(f.Pid))
	checkLeaks(t, snap, markers, dir)
	ours := map[int64]snapshot.Goroutine{}
	for _, g := range snap.Goroutines {
		if g.Leak == "leaked" {
			ours[g.ID] = g
		}
	}
	for id, state := range runtimeLeaked {
		if _, ok := ours[id]; !ok {
			t.Errorf("the runtime found goroutine %d [%s] leaked; gorigin does not", id, state)
		}
	}
	// What gorigin adds must be a marked leak the runtime's detector does not model.
	for id, g := range ours {
		if _, ok := runtimeLeaked[id]; ok {
			continue
		}
		t.Logf("gorigin adds goroutine %d: %s (a LEAK marker, checked above)", id, describe(g))
	}
	t.Logf("runtime: %d leaked, gorigin: %d leaked", len(runtimeLeaked), len(ours))
}

// BenchmarkLeaks measures gorigin leaks on the leak fixture with a 100 MB heap of small
// pointerful objects and 100,000 goroutines blocked on live channels (GORIGIN_LEAKS_1GB=1:
// a 1 GB heap): wall time, freeze and peak RSS of the leaks command, and the same for a
// plain attach of the same process as the peer.
func BenchmarkLeaks(b *testing.B) {
	needGorigin(b)
	testenv.NeedPtrace(b)
	dir := leakFixtureDir(b)
	bin := programBinary(b, dir, hostVariant(b))
	mb := 100
	if os.Getenv("GORIGIN_LEAKS_1GB") == "1" {
		mb = 1024
	}
	f := startFixture(b, bin, "-ballast", strconv.Itoa(mb), "-idle", "100000")
	measure := func(args ...string) (time.Duration, int64, string) {
		cmd := exec.Command(needGorigin(b), args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("gorigin %s: %v\n%s", strings.Join(args, " "), err, errb.Bytes())
		}
		rss := int64(0)
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = ru.Maxrss // KiB
		}
		first, _, _ := strings.Cut(out.String(), "\n")
		return time.Since(start), rss, first
	}
	b.ResetTimer()
	var leakWall, attachWall time.Duration
	var leakRSS, attachRSS int64
	for i := 0; i < b.N; i++ {
		w, rss, summary := measure("leaks", strconv.Itoa(f.Pid))
		leakWall += w
		leakRSS = max(leakRSS, rss)
		if i == 0 {
			b.Logf("%s", summary)
		}
		w, rss, _ = measure("attach", strconv.Itoa(f.Pid), "--format", "json", "-o", "/dev/null")
		attachWall += w
		attachRSS = max(attachRSS, rss)
	}
	b.StopTimer()
	testenv.CheckRunsFreely(b, f.Pid, time.Second)
	b.ReportMetric(leakWall.Seconds()/float64(b.N), "s/leaks")
	b.ReportMetric(float64(leakRSS)/1024, "MB-peak-RSS/leaks")
	b.ReportMetric(attachWall.Seconds()/float64(b.N), "s/attach")
	b.ReportMetric(float64(attachRSS)/1024, "MB-peak-RSS/attach")
	b.Logf("heap %d MB, 100,000 idle goroutines; load average: %s", mb, loadAverage())
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
