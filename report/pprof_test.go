package report

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/gorigin-dev/gorigin/internal/terminal"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// writeProfile renders s in the pprof format into a file and returns its path.
func writeProfile(t *testing.T, s *snapshot.Snapshot) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, "pprof", snapshot.GroupSnapshot(s, snapshot.Key{}), Options{}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "goroutines.pb.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPprofParsesBack(t *testing.T) {
	s := apiServer()
	data, err := os.ReadFile(writeProfile(t, s))
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("profile.Parse: %v", err)
	}
	if err := p.CheckValid(); err != nil {
		t.Fatalf("CheckValid: %v", err)
	}
	if len(p.SampleType) != 1 || p.SampleType[0].Type != "goroutines" || p.SampleType[0].Unit != "count" {
		t.Errorf("sample types %v, want goroutines/count", p.SampleType)
	}
	if len(p.Sample) != len(s.Goroutines) {
		t.Fatalf("%d samples, want one per goroutine: %d", len(p.Sample), len(s.Goroutines))
	}
	byState := map[string]int{}
	for _, smp := range p.Sample {
		if smp.Value[0] != 1 {
			t.Fatalf("sample value %v, want 1", smp.Value)
		}
		byState[smp.Label[LabelStatus][0]+"/"+strings.Join(smp.Label[LabelWait], "")]++
	}
	// apiServer: 3+1 running, the rest waiting for what the fixture says.
	want := map[string]int{"running/": 4, "waiting/chan receive": 1990, "waiting/select": 1 + 8, "waiting/IO wait": 2, "waiting/sync.Cond.Wait": 30, "waiting/sleep": 12}
	for k, n := range want {
		if byState[k] != n {
			t.Errorf("samples labelled %q: %d, want %d (all: %v)", k, byState[k], n, byState)
		}
	}
	// Goroutine labels stay labels.
	tenants := 0
	for _, smp := range p.Sample {
		if len(smp.Label["tenant"]) == 1 {
			tenants++
		}
	}
	if tenants != 11 {
		t.Errorf("%d samples with a tenant label, want 11", tenants)
	}
}

// pprofTop runs "go tool pprof -top" with args on path and returns flat and cum per
// node name.
func pprofTop(t *testing.T, path string, args ...string) (flat, cum map[string]int) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to run go tool pprof")
	}
	cmdArgs := append([]string{"tool", "pprof", "-top", "-nodefraction=0", "-nodecount=100000"}, args...)
	cmd := exec.Command(goBin, append(cmdArgs, path)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go tool pprof %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	row := regexp.MustCompile(`^\s*(\d+)\s+\S+%\s+\S+%\s+(\d+)\s+\S+%\s+(.+)$`)
	flat, cum = map[string]int{}, map[string]int{}
	for _, line := range strings.Split(string(out), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		flat[m[3]], _ = strconv.Atoi(m[1])
		cum[m[3]], _ = strconv.Atoi(m[2])
	}
	if len(cum) == 0 {
		t.Fatalf("go tool pprof -top printed no rows:\n%s", out)
	}
	return flat, cum
}

// TestPprofTopCountsAncestry reads the profile with pprof itself. The expected counts
// come from how apiServer is built, not from the renderer: 1,993 goroutines created at
// main.go:94; 11 at serve.go:56; 30 workers at spawn.go:8 whose 12 pollers were created
// at spawn.go:8 too, so 42 goroutines have spawn.go:8 in their ancestry, and the pollers
// have their parent's start function, main.worker, in theirs.
func TestPprofTopCountsAncestry(t *testing.T) {
	s := apiServer()
	path := writeProfile(t, s)
	_, cum := pprofTop(t, path, "-lines")
	want := map[string]int{
		"main.main /home/dev/api/cmd/api/main.go:94":                                  1993,
		"github.com/acme/api/server.(*server).serve /home/dev/api/server/serve.go:56": 11,
		"main.startGoRoutine /home/dev/api/cmd/api/spawn.go:8":                        42,
		"main.worker /home/dev/api/cmd/api/worker.go:12":                              12,
		"runtime.gopark /usr/local/go/src/runtime/proc.go:435":                        len(s.Goroutines),
	}
	for node, n := range want {
		if cum[node] != n {
			t.Errorf("pprof -top -lines: cum %q = %d, want %d\nall: %v", node, cum[node], n, cum)
		}
	}

	// Without stacks the leaf is the start function: flat per function is the number of
	// goroutines started in it, which is the per-origin group count here.
	for i := range s.Goroutines {
		s.Goroutines[i].Frames = nil
	}
	flat, _ := pprofTop(t, writeProfile(t, s))
	wantFlat := map[string]int{"main.blockRecv": 1993, "github.com/acme/api/server.(*server).serve.func1": 11, "main.worker": 30, "main.poller": 12, "runtime.main": 1}
	for _, g := range snapshot.GroupBy(s.Goroutines, snapshot.Key{}) {
		if wantFlat[g.Start.Func] != g.Count {
			t.Fatalf("apiServer changed: group %s has %d goroutines, this test expects %d", g.Key, g.Count, wantFlat[g.Start.Func])
		}
	}
	for fn, n := range wantFlat {
		if flat[fn] != n {
			t.Errorf("pprof -top: flat %q = %d, want %d\nall: %v", fn, flat[fn], n, flat)
		}
	}

	// -tagfocus selects by wait reason.
	flat, _ = pprofTop(t, path, "-tagfocus=wait=sleep")
	total := 0
	for _, n := range flat {
		total += n
	}
	if total != 12 || flat["runtime.gopark"] != 12 {
		t.Errorf("pprof -top -tagfocus=wait=sleep: %d goroutines (%v), want the 12 pollers", total, flat)
	}
}

func TestIsTerminalNotDevNull(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if terminal.Is(f) {
		t.Errorf("%s is a character device but not a terminal", os.DevNull)
	}
	if terminal.Is(&bytes.Buffer{}) {
		t.Error("a buffer is no terminal")
	}
}

func TestPprofParentCycleEnds(t *testing.T) {
	o := loc("main.spawn", "/a/main.go", 5)
	s := &snapshot.Snapshot{Schema: snapshot.Schema, Source: snapshot.Source{Kind: "dump"}, Goroutines: []snapshot.Goroutine{
		{ID: 2, ParentID: 3, Status: "running", Origin: o},
		{ID: 3, ParentID: 2, Status: "running", Origin: o},
		{Status: "running"}, // nothing known at all
	}}
	p, err := Profile(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, smp := range p.Sample {
		if len(smp.Location) > 4 {
			t.Errorf("a parent cycle gave a stack of %d locations", len(smp.Location))
		}
	}
}
