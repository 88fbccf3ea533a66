package integration

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// BenchmarkLeaksFreeze measures gorigin leaks on the leak fixture with 10,000 idle
// goroutines and a heap of small pointer-holding objects of each size in GORIGIN_LEAKS_MB
// (default "100,500"; e.g. "100,500,1024"): the longest pause the target itself saw (its
// 1 ms heartbeat, -gap), gorigin's wall time and peak RSS. GORIGIN_LEAKS_BEFORE names
// another gorigin binary (an older build) measured the same way on the same process, for
// the before/after rows of BENCHMARKS.md.
//
// Beside it, on a GOEXPERIMENT=goroutineleakprofile build of the same fixture started with
// the same flags (Go 1.26+; left out with a message otherwise), the peer: the runtime's own
// goroutine-leak profile, GET /debug/pprof/goroutineleak?debug=1, which runs a GC cycle
// that detects leaks. It is judged by the same heartbeat, and by the stop-the-world pauses
// the runtime itself records (the fixture's /pauses, read before and after). Each size
// logs its rows and the ratios gorigin ÷ runtime. Nothing is asserted: the numbers are the
// result.
func BenchmarkLeaksFreeze(b *testing.B) {
	needGorigin(b)
	testenv.NeedPtrace(b)
	dir := leakFixtureDir(b)
	v := hostVariant(b)
	peerBuild := v.build(dir)
	peerBuild.Env = append(peerBuild.Env, "GOEXPERIMENT=goroutineleakprofile")
	testenv.Prebuild(v.build(dir), peerBuild)
	bin := programBinary(b, dir, v)
	peer := testenv.Do(peerBuild)
	sizes := os.Getenv("GORIGIN_LEAKS_MB")
	if sizes == "" {
		sizes = "100,500"
	}
	tools := [][2]string{{"after", needGorigin(b)}}
	if before := os.Getenv("GORIGIN_LEAKS_BEFORE"); before != "" {
		tools = append(tools, [2]string{"before", before})
	}
	for _, s := range strings.Split(sizes, ",") {
		mb, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			b.Fatalf("GORIGIN_LEAKS_MB: %v", err)
		}
		b.Run(strconv.Itoa(mb)+"MB", func(b *testing.B) {
			var runs []leaksRun
			// Each in a sub-benchmark of its own, so that one fixture has exited before
			// the other starts.
			b.Run("gorigin", func(b *testing.B) { runs = append(runs, leaksFreezeOnce(b, bin, mb, tools)...) })
			b.Run("runtime", func(b *testing.B) {
				if peer.Skip != "" || peer.Err != nil {
					b.Skipf("the runtime's goroutine-leak profile is left out: cannot build %s: %s%v", peerBuild, peer.Skip, peer.Err)
				}
				// Logged here: a benchmark with sub-benchmarks prints no log of its own.
				logLeaksRatios(b, mb, append(runs, leakProfileOnce(b, peer.Path, mb)))
			})
		})
	}
}

const peerTool = "runtime goroutineleak profile"

var (
	leakedRE      = regexp.MustCompile(`\b(\d+) leaked\b`)
	leakProfileRE = regexp.MustCompile(`^goroutineleak profile: total (\d+)`)
)

// leaksRun is one measured look for leaks at a fixture.
type leaksRun struct {
	tool   string
	paused time.Duration // the longest gap the target's heartbeat saw during the look
	wall   time.Duration
	rss    int64  // the tool's own peak RSS in bytes (-1: not measured)
	rssBy  string // how rss was measured
	growth int64  // how far the target's peak RSS rose above its RSS before, bytes
	leaked int    // goroutines the tool calls leaked (-1: not found in its output)
	stw    stwDiff
	idle   time.Duration // the heartbeat's longest gap with nothing running
	load   string
	note   string // the tool's summary
}

// row is r as a line of BENCHMARKS.md's table.
func (r leaksRun) row(mb int) string {
	rss := "—"
	if r.rss >= 0 {
		rss = fmt.Sprintf("%d MB%s", r.rss>>20, r.rssBy)
	}
	stw := "—"
	if r.stw.pauses > 0 {
		stw = r.stw.String()
	}
	return fmt.Sprintf("| %d MB | %s | %v | %s | %v | %s | %+d MB | %d | %v | %s | %s",
		mb, r.tool, ms(r.paused), stw, r.wall.Round(10*time.Millisecond), rss, r.growth>>20, r.leaked, ms(r.idle), r.load, r.note)
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) + " ms"
}

// heartbeat answers the longest pause the fixture's heartbeat saw since the last call.
func heartbeat(b *testing.B, f *fixture) time.Duration {
	body, err := f.get("/gap")
	if err != nil {
		b.Fatalf("GET /gap: %v\nstderr:\n%s", err, f.stderr)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(body)), 10, 64)
	if err != nil {
		b.Fatalf("GET /gap: %v", err)
	}
	return time.Duration(ns)
}

// settle waits for the fixture to run undisturbed and returns its idle heartbeat gap.
func settle(b *testing.B, f *fixture) time.Duration {
	heartbeat(b, f)
	time.Sleep(300 * time.Millisecond)
	return heartbeat(b, f)
}

// leaksFreezeOnce runs each of tools' gorigin leaks once on one fixture of mb MB.
func leaksFreezeOnce(b *testing.B, bin string, mb int, tools [][2]string) []leaksRun {
	f := startFixture(b, bin, "-ballast", strconv.Itoa(mb), "-idle", "10000", "-gap")
	idle := settle(b, f)
	var runs []leaksRun
	for _, tool := range tools {
		r := leaksRun{tool: "gorigin leaks " + tool[0], idle: idle, load: loadAverage()}
		base := resetPeakRSS(b, f.Pid)
		heartbeat(b, f)
		out := measureRun(b, &r, tool[1], "leaks", strconv.Itoa(f.Pid))
		r.paused = heartbeat(b, f)
		r.growth = peakRSS(b, f.Pid) - base
		r.note, _, _ = strings.Cut(out, "\n")
		r.leaked = -1
		if m := leakedRE.FindStringSubmatch(r.note); m != nil {
			r.leaked, _ = strconv.Atoi(m[1])
		}
		b.Log(r.row(mb))
		runs = append(runs, r)
	}
	testenv.CheckRunsFreely(b, f.Pid, time.Second)
	return runs
}

// measureRun runs bin with args, under GNU time when there is one: the rusage of a child
// Go starts counts this process's own peak RSS as the child's (they share memory until
// exec), so without it the RSS is only an upper bound. It sets r's wall and rss and
// returns the standard output.
func measureRun(b *testing.B, r *leaksRun, bin string, args ...string) string {
	timeOut := filepath.Join(b.TempDir(), "rss")
	cmd := exec.Command(bin, args...)
	gnuTime := false
	if _, err := os.Stat("/usr/bin/time"); err == nil {
		cmd = exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", timeOut, bin}, args...)...)
		gnuTime = true
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, errb.Bytes())
	}
	r.wall = time.Since(start)
	r.rss = -1
	if !gnuTime {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.rss, r.rssBy = ru.Maxrss<<10, " (rusage, an upper bound)"
		}
	} else if t, err := os.ReadFile(timeOut); err == nil {
		if kb, err := strconv.ParseInt(strings.TrimSpace(string(t)), 10, 64); err == nil {
			r.rss = kb << 10
		}
	}
	return out.String()
}

// leakProfileOnce asks the runtime's own goroutine-leak profile of a
// GOEXPERIMENT=goroutineleakprofile build of the fixture of mb MB, once.
func leakProfileOnce(b *testing.B, bin string, mb int) leaksRun {
	f := startFixture(b, bin, "-ballast", strconv.Itoa(mb), "-idle", "10000", "-gap")
	r := leaksRun{tool: peerTool, idle: settle(b, f), load: loadAverage(), rss: -1}
	before := readPauses(b, f)
	base := resetPeakRSS(b, f.Pid)
	heartbeat(b, f)
	client := &http.Client{Timeout: 10 * time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Get("http://" + f.Addr + "/debug/pprof/goroutineleak?debug=1")
	if err != nil {
		b.Fatalf("the runtime's goroutineleak profile: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("the runtime's goroutineleak profile: %v %s\n%.400s", err, resp.Status, body)
	}
	r.wall = time.Since(start)
	r.paused = heartbeat(b, f)
	r.growth = peakRSS(b, f.Pid) - base
	r.stw = readPauses(b, f).since(before)
	r.leaked = -1
	r.note, _, _ = strings.Cut(string(body), "\n")
	if m := leakProfileRE.FindStringSubmatch(r.note); m != nil {
		r.leaked, _ = strconv.Atoi(m[1])
	}
	b.Log(r.row(mb))
	return r
}

// pauseCounts is one reading of the fixture's /pauses.
type pauseCounts struct {
	cycles, totalNS int64
	buckets         map[[3]string]int64 // {gc|other, lower, upper bound in ns} → pauses so far
}

func readPauses(b *testing.B, f *fixture) pauseCounts {
	body, err := f.get("/pauses")
	if err != nil {
		b.Fatalf("GET /pauses: %v", err)
	}
	p := pauseCounts{buckets: map[[3]string]int64{}}
	for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		fs := strings.Fields(line)
		n, err := strconv.ParseInt(fs[len(fs)-1], 10, 64)
		if err != nil {
			b.Fatalf("GET /pauses: %q: %v", line, err)
		}
		switch {
		case fs[0] == "gc-cycles":
			p.cycles = n
		case fs[0] == "gc-pause-total-ns":
			p.totalNS = n
		case fs[0] == "stw" && len(fs) == 5:
			p.buckets[[3]string{fs[1], fs[2], fs[3]}] = n
		}
	}
	return p
}

// stwDiff is what the runtime recorded between two readings: its GC cycles, their summed
// stop-the-world time (exact), and how many stops of any kind, the longest between
// longestMin and longest (the runtime's histogram buckets are a quarter of a power of two
// wide; when every stop was the GC's, the longest is also at most their sum).
type stwDiff struct {
	cycles, pauses      int64
	total               time.Duration
	longestMin, longest time.Duration
	other               bool // stops that are not the GC's
}

func (p pauseCounts) since(q pauseCounts) stwDiff {
	d := stwDiff{cycles: p.cycles - q.cycles, total: time.Duration(p.totalNS - q.totalNS)}
	for k, n := range p.buckets {
		if n -= q.buckets[k]; n <= 0 {
			continue
		}
		d.pauses += n
		d.other = d.other || k[0] != "gc"
		lower, _ := strconv.ParseInt(k[1], 10, 64)
		upper, err := strconv.ParseInt(k[2], 10, 64)
		if err != nil { // "inf"
			upper = 1<<63 - 1
		}
		if time.Duration(upper) > d.longest {
			d.longestMin, d.longest = time.Duration(lower), time.Duration(upper)
		}
	}
	if !d.other && d.total < d.longest {
		d.longest = d.total
	}
	return d
}

func (d stwDiff) String() string {
	other := ""
	if d.other {
		other = " (some not the GC's)"
	}
	return fmt.Sprintf("%d stops%s in %d GC cycle(s), longest %s–%s, GC total %s", d.pauses, other, d.cycles, ms(d.longestMin), ms(d.longest), ms(d.total))
}

// resetPeakRSS resets pid's peak RSS to its RSS (clear_refs 5) and returns the RSS.
func resetPeakRSS(b *testing.B, pid int) int64 {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		b.Logf("reset the peak RSS of %d: %v (its growth is then measured from its earlier peak)", pid, err)
		return peakRSS(b, pid)
	}
	return statusBytes(b, pid, "VmRSS")
}

func peakRSS(b *testing.B, pid int) int64 { return statusBytes(b, pid, "VmHWM") }

// statusBytes is the field of /proc/PID/status given in kB, in bytes.
func statusBytes(b *testing.B, pid int, field string) int64 {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + field + `:\s*(\d+) kB$`).FindSubmatch(s)
	if m == nil {
		b.Fatalf("/proc/%d/status has no %s", pid, field)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// logLeaksRatios logs each gorigin run's figures over the runtime's (> 1: gorigin costs
// more), and the leaked goroutines each found.
func logLeaksRatios(b *testing.B, mb int, runs []leaksRun) {
	if len(runs) == 0 || runs[len(runs)-1].tool != peerTool {
		return
	}
	peer := runs[len(runs)-1]
	ratio := func(a, c time.Duration) string {
		if c <= 0 {
			return "—"
		}
		return strconv.FormatFloat(float64(a)/float64(c), 'f', 1, 64) + "×"
	}
	for _, r := range runs[:len(runs)-1] {
		b.Logf("%d MB: %s ÷ runtime: paused %s (heartbeat ÷ heartbeat), %s (heartbeat ÷ the runtime's longest stop), wall %s; leaked %d vs %d",
			mb, r.tool, ratio(r.paused, peer.paused), ratio(r.paused, peer.stw.longest), ratio(r.wall, peer.wall), r.leaked, peer.leaked)
	}
}
