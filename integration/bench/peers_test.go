package bench

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// pprofDumpLimit is where runtime/pprof stops growing its debug=2 buffer and truncates.
const pprofDumpLimit = 64 << 20

// BenchmarkPeerDebug2_100k fetches /debug/pprof/goroutine?debug=2 from the shared target
// once per iteration: the runtime's stop-the-world traceback of every goroutine, what most
// people use. runtime/pprof retries with a doubled buffer (1 MB, 2 MB, ... 64 MB), each
// retry a new stop-the-world; the target reports the longest one.
func BenchmarkPeerDebug2_100k(b *testing.B) {
	t := sharedTarget(b)
	url := "http://" + t.addr + "/debug/pprof/goroutine?debug=2"
	client := &http.Client{Timeout: 2 * time.Minute}
	var freeze, wall []time.Duration
	var size, listed int
	for i := 0; i < b.N; i++ {
		if err := t.reset(); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		body, err := fetch(client, url)
		wall = append(wall, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		f, err := t.freeze()
		if err != nil {
			b.Fatal(err)
		}
		freeze = append(freeze, f)
		size, listed = len(body), countDumpGoroutines(body)
	}
	truncated := listed < t.n || size >= pprofDumpLimit
	if truncated {
		b.Logf("the debug=2 dump was truncated: %d goroutines (want at least %d) in %d bytes; runtime/pprof stops at %d bytes",
			listed, t.n, size, pprofDumpLimit)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(t.n), "goroutines")
	b.ReportMetric(ms(median(freeze)), "target-freeze-ms")
	b.ReportMetric(ms(slices.Max(freeze)), "max-target-freeze-ms")
	b.ReportMetric(ms(median(wall)), "wall-ms")
	b.ReportMetric(float64(size)/1e6, "MB-received")
	b.ReportMetric(float64(listed), "goroutines-in-dump")
	b.ReportMetric(boolMetric(truncated), "truncated")
	reportRatios(b, t, median(freeze), median(wall))
}

func fetch(client *http.Client, url string) ([]byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, fmt.Errorf("fetch the debug=2 dump: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the debug=2 dump: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch the debug=2 dump: %s: %s", resp.Status, lastBytes(body, 500))
	}
	return body, nil
}

// countDumpGoroutines counts the "goroutine N [...]:" headers of a traceback dump.
func countDumpGoroutines(dump []byte) int {
	n := bytes.Count(dump, []byte("\ngoroutine "))
	if bytes.HasPrefix(dump, []byte("goroutine ")) {
		n++
	}
	return n
}

// createdBy matches the last line of a goroutine in a traceback dump:
// "created by main.spawnWorkers in goroutine 1".
var createdBy = regexp.MustCompile(`(?m)^created by (\S+) in goroutine`)

// dumpOrigins counts a traceback dump's goroutines by the function that created them.
func dumpOrigins(dump []byte) map[string]int {
	m := map[string]int{}
	for _, c := range createdBy.FindAllSubmatch(dump, -1) {
		m[string(c[1])]++
	}
	return m
}

// dlvGroup matches the header of a group of dlv's "goroutines -group goloc", then its last
// line: "/src/main.go:94 in main.spawnWorkers" ... "\tTotal: 40000".
var dlvGroup = regexp.MustCompile(`(?m)^(?:\(dlv\) )?\S+:\d+ in (\S+)\n(?:\s+Goroutine .*\n|\s*\.\.\.?.*\n)*\s*Total: (\d+)`)

// dlvOrigins counts dlv's "goroutines -group goloc" answer by the function holding the go
// statement, and returns the sum of every group's total.
func dlvOrigins(out []byte) (m map[string]int, total int) {
	m = map[string]int{}
	for _, g := range dlvGroup.FindAllSubmatch(out, -1) {
		n, _ := strconv.Atoi(string(g[2]))
		m[string(g[1])] += n
	}
	for _, t := range dlvTotal.FindAllSubmatch(out, -1) {
		n, _ := strconv.Atoi(string(t[1]))
		total += n
	}
	return m, total
}

// toolRun is a slow peer's single measurement, shared by every call of its benchmark
// function in one run: gdb and dlv take seconds, so they run once whatever b.N is.
type toolRun struct {
	freeze time.Duration
	wall   time.Duration
	rss    int64
	listed int // goroutines the tool listed
	err    error
}

func (o *toolRun) report(b *testing.B, t *target) {
	if o.err != nil {
		b.Fatal(o.err)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(t.n), "goroutines")
	b.ReportMetric(ms(o.freeze), "target-freeze-ms")
	b.ReportMetric(ms(o.wall), "wall-ms")
	b.ReportMetric(float64(o.rss)/1e6, "peak-rss-MB")
	b.ReportMetric(float64(o.listed), "goroutines-listed")
	reportRatios(b, t, o.freeze, o.wall)
}

// measureTool runs a debugger against t inside one gap-watcher window and checks that it
// left the target running and detached.
func measureTool(t *target, stdin string, name string, args ...string) (o toolRun, out []byte) {
	if o.err = t.reset(); o.err != nil {
		return o, nil
	}
	var buf bytes.Buffer
	var runErr error
	o.wall, o.rss, runErr = runTool(10*time.Minute, stdin, &buf, name, args...)
	o.freeze, o.err = t.freeze()
	if runErr != nil {
		o.err = runErr
	}
	if o.err == nil {
		o.err = t.checkRunning()
	}
	return o, buf.Bytes()
}

var (
	gdbOnce sync.Once
	gdbRun  toolRun
)

// gdbGoroutine matches a line of runtime-gdb.py's "info goroutines": "* 1 running runtime.x".
var gdbGoroutine = regexp.MustCompile(`(?m)^[ *]\s*\d+ \S+`)

// BenchmarkPeerGDB_100k runs "gdb -p PID -batch" with the runtime-gdb.py of the toolchain
// that built the target and "info goroutines", once per run.
func BenchmarkPeerGDB_100k(b *testing.B) {
	gdb, err := exec.LookPath("gdb")
	if err != nil {
		b.Skip("gdb is not on PATH; install gdb to compare with it")
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Fatalf("go env GOROOT: %v", err)
	}
	script := filepath.Join(strings.TrimSpace(string(goroot)), "src", "runtime", "runtime-gdb.py")
	if _, err := os.Stat(script); err != nil {
		b.Skipf("no runtime-gdb.py for the target's toolchain: %v", err)
	}
	t := sharedTarget(b)
	gdbOnce.Do(func() {
		var out []byte
		gdbRun, out = measureTool(t, "", gdb, "-p", strconv.Itoa(t.pid), "-batch", "-nx",
			"-iex", "set auto-load python-scripts off",
			"-ex", "source "+script, "-ex", "info goroutines")
		gdbRun.listed = len(gdbGoroutine.FindAll(out, -1))
		if gdbRun.err == nil && gdbRun.listed < t.n {
			b.Logf("gdb listed %d goroutines, want at least %d; its output ends:\n%s", gdbRun.listed, t.n, lastBytes(out, 1000))
		}
	})
	gdbRun.report(b, t)
}

var (
	dlvOnce sync.Once
	dlvRun  toolRun
)

// dlvTotal matches the last line of a group of "goroutines -group": "\tTotal: 60000".
var dlvTotal = regexp.MustCompile(`(?m)^\s*Total: (\d+)`)

// BenchmarkPeerDlv_100k attaches dlv in its non-terminal interactive mode, lists the
// goroutines grouped by go statement ("goroutines -group goloc"), and quits without
// killing the target ("n" to dlv's question), once per run.
func BenchmarkPeerDlv_100k(b *testing.B) {
	dlv, err := exec.LookPath("dlv")
	if err != nil {
		b.Skip("dlv is not on PATH; go install github.com/go-delve/delve/cmd/dlv@latest to compare with it")
	}
	t := sharedTarget(b)
	dlvOnce.Do(func() { dlvRun = measureDlv(t, dlv) })
	if dlvRun.err == nil && dlvRun.listed < t.n {
		b.Logf("dlv listed %d goroutines, want at least %d", dlvRun.listed, t.n)
	}
	dlvRun.report(b, t)
}

func boolMetric(v bool) float64 {
	if v {
		return 1
	}
	return 0
}
