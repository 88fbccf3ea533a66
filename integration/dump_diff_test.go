package integration

// gorigin diff on a program that leaks a goroutine per request: two snapshots taken
// around loopback load must put the leaking go statement first, with every goroutine
// the load created counted as new; two snapshots of the idle program show no growth.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// testdata/leaky leaks one goroutine per request to /leak, at leakLine.
const leakLine = 21

// startLeaky builds and starts testdata/leaky and returns its address and a scratch dir.
func startLeaky(t *testing.T) (addr, dir string) {
	t.Helper()
	needGorigin(t)
	bin := testenv.Binary(t, testenv.Build{Dir: filepath.Join("testdata", "leaky"), Env: []string{"CGO_ENABLED=0"}})
	dir = t.TempDir()
	cmd := exec.Command(bin)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	m := regexp.MustCompile(`^ready addr=(\S+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("want a ready line, got %q", line)
	}
	return m[1], dir
}

func TestDiffFindsLeak(t *testing.T) {
	addr, dir := startLeaky(t)
	m := []string{"", addr}
	url := "http://" + m[1] + "/debug/pprof/goroutine"
	snap := func(name string) string {
		path := filepath.Join(dir, name)
		if r := runGorigin(t, nil, "dump", url, "--format", "json", "-o", path); r.Code != 0 {
			t.Fatalf("%v", r)
		}
		return path
	}
	diff := func(a, b string) snapshot.Diff {
		r := runGorigin(t, nil, "diff", a, b, "--format", "json")
		if r.Code != 0 {
			t.Fatalf("%v", r)
		}
		var d snapshot.Diff
		if err := json.Unmarshal(r.Stdout, &d); err != nil {
			t.Fatalf("diff --format json: %v\n%s", err, r.Stdout)
		}
		return d
	}

	before := snap("before.json")
	idle := snap("idle.json")
	const requests = 25
	client := &http.Client{Timeout: 10 * time.Second}
	for i := 0; i < requests; i++ {
		resp, err := client.Get("http://" + m[1] + "/leak")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	client.CloseIdleConnections()
	after := snap("after.json")

	d := diff(before, after)
	if len(d.Groups) == 0 {
		t.Fatal("no groups")
	}
	top := d.Groups[0]
	if top.Origin == nil || top.Origin.Line != leakLine || !strings.HasSuffix(top.Origin.File, "/main.go") ||
		top.Delta != requests || top.New != requests || top.Before != 0 {
		t.Errorf("the first group is %+v, want the leaking go statement main.go:%d with %d new", top, leakLine, requests)
	}
	for _, g := range d.Groups[1:] {
		if g.Delta > 0 && g.Origin != nil && strings.HasSuffix(g.Origin.File, "/main.go") {
			t.Errorf("another group of the program grew: %+v", g)
		}
	}
	if !d.IDsKnown || d.New < requests {
		t.Errorf("ids known %v, %d new goroutines: want at least %d", d.IDsKnown, d.New, requests)
	}

	steady := diff(before, idle)
	for _, g := range steady.Groups {
		if g.Delta != 0 && g.Origin != nil && strings.HasSuffix(g.Origin.File, "/main.go") {
			t.Errorf("no load, yet a group of the program changed: %+v", g)
		}
	}
	pool := 0
	for _, g := range steady.Groups {
		if g.Origin != nil && g.Origin.Line == 18 {
			pool = g.After
		}
	}
	if pool != 3 {
		t.Errorf("the steady pool (main.go:18) has %d goroutines in the diff, want 3", pool)
	}

	// The text table says the same, leak first.
	r := runGorigin(t, nil, "diff", before, after)
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	lines := strings.Split(string(r.Stdout), "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[3], fmt.Sprintf("+%d ", requests)) || !strings.Contains(lines[3], fmt.Sprintf("main.go:%d", leakLine)) {
		t.Errorf("diff text:\n%s", r.Stdout)
	}
	if !bytes.Contains(r.Stdout, []byte(fmt.Sprintf("%d new since before", d.New))) {
		t.Errorf("diff text does not count the new goroutines:\n%s", r.Stdout)
	}
}

// TestDiffLivePid diffs a saved debug=2 dump of the fixture with a live snapshot of it:
// the fixture does not change, so no group of its own changes and every goroutine of
// it is old.
func TestDiffLivePid(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	v := hostVariant(t)
	e := expect(t, v, 0)
	f := startFixture(t, fixtureBinary(t, v))
	saved := filepath.Join(t.TempDir(), "before.json")
	if r := runGorigin(t, nil, "dump", "http://"+f.Addr+"/debug/pprof/goroutine", "--format", "json", "-o", saved); r.Code != 0 {
		t.Fatalf("%v", r)
	}
	r := runGorigin(t, nil, "diff", saved, strconv.Itoa(f.Pid), "--format", "json")
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	var d snapshot.Diff
	if err := json.Unmarshal(r.Stdout, &d); err != nil {
		t.Fatal(err)
	}
	if d.After.Kind != "live" || d.Before.Kind != "dump" || !d.IDsKnown {
		t.Errorf("diff of %s and %s, ids known %v: want dump and live with ids", d.Before.Kind, d.After.Kind, d.IDsKnown)
	}
	compared := 0
	for _, g := range d.Groups {
		if g.Origin == nil || !e.files[g.Origin.File] || e.name(origin{g.Origin.File, g.Origin.Line}) == busyStatement {
			continue
		}
		compared++
		if g.Delta != 0 || g.New != 0 {
			t.Errorf("group %s changed between the dump and the live snapshot: %+v", g.Key, g)
		}
	}
	if compared < 10 {
		t.Errorf("only %d fixture groups in the diff", compared)
	}
}
