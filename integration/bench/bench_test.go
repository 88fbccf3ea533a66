package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// The target and the gorigin binary are shared by every benchmark of one run, so that the
// peers are measured on the same process; TestMain stops the target and removes the files.
// (A benchmark function is called several times — once with b.N=1, then with the real b.N
// — and b.Cleanup runs after each call, so it cannot own a target that takes seconds to start.)
var shared struct {
	mu     sync.Mutex
	dir    string
	target *target
	err    error // why the target could not be started; sticky

	gorigin    string
	goriginErr error // why gorigin could not be built; sticky

	// The latest gorigin medians, the denominators of the peers' ratios.
	goriginFreeze, goriginWall time.Duration
	haveGorigin                bool
	goriginFailed              error // why an attach failed in this run; no ratios then
}

func TestMain(m *testing.M) {
	if mode := os.Getenv(hogEnv); mode != "" {
		runHog(mode) // a busy benchmark's load process (busy_test.go)
	}
	code := m.Run()
	if shared.target != nil {
		shared.target.stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// benchN is the number of goroutines the target parks: GORIGIN_BENCH_N, default 100000.
func benchN(b *testing.B) int {
	s := os.Getenv("GORIGIN_BENCH_N")
	if s == "" {
		return 100000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("GORIGIN_BENCH_N=%q: want a positive number of goroutines", s)
	}
	return n
}

// sharedDir is a directory for the run's snapshots, removed by TestMain.
func sharedDir(b *testing.B) string {
	if shared.dir == "" {
		dir, err := os.MkdirTemp("", "gorigin-bench-")
		if err != nil {
			b.Fatal(err)
		}
		shared.dir = dir
	}
	return shared.dir
}

// sharedTarget starts the bigtarget once per run and returns it.
func sharedTarget(b *testing.B) *target {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.target == nil && shared.err == nil {
		sharedDir(b)
		shared.target, shared.err = startTarget(benchN(b))
	}
	if shared.err != nil {
		b.Fatal(shared.err)
	}
	if err := shared.target.checkRunning(); err != nil {
		b.Fatalf("a previous benchmark broke the shared target: %v", err)
	}
	// The numbers mean little on a busy machine: say how busy it was.
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("b.N=%d, load average %s", b.N, strings.TrimSpace(string(load)))
	}
	return shared.target
}

// goriginBinary builds gorigin from this module once per run, or returns -gorigin's.
func goriginBinary(b *testing.B) (string, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.gorigin == "" && shared.goriginErr == nil && *suiteBinary != "" {
		shared.gorigin = *suiteBinary // -gorigin: measure that binary (an older build, say)
	}
	if shared.gorigin == "" && shared.goriginErr == nil {
		shared.gorigin, shared.goriginErr = testenv.Gorigin()
	}
	return shared.gorigin, shared.goriginErr
}

// attach is one gorigin attach as the benchmark sees it.
type attach struct {
	freeze   time.Duration // measured by the target
	after    time.Duration // the target's longest gap after the freeze ended
	reported time.Duration // gorigin's own source.freezeMicros
	wall     time.Duration // the gorigin process, start to exit
	rss      int64         // the gorigin process's peak RSS, bytes
}

// attachOnce runs "gorigin attach PID --format json" against t inside one gap-watcher
// window and checks that the snapshot is complete and right.
func attachOnce(t *target, gorigin, dir string) (attach, error) {
	out := filepath.Join(dir, "snapshot.json")
	defer os.Remove(out)
	if err := t.reset(); err != nil {
		return attach{}, err
	}
	wall, rss, runErr := runTool(2*time.Minute, "", nil, gorigin, "attach", strconv.Itoa(t.pid), "--format", "json", "-o", out)
	freeze, err := t.freeze()
	var after time.Duration
	if err == nil {
		after, err = t.afterFreeze()
	}
	if runErr != nil {
		return attach{}, runErr
	}
	if err != nil {
		return attach{}, fmt.Errorf("after gorigin attach: %w", err)
	}
	if err := t.checkRunning(); err != nil {
		return attach{}, fmt.Errorf("after gorigin attach: %w", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return attach{}, fmt.Errorf("gorigin attach wrote no snapshot: %w", err)
	}
	var s snapshot.Snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return attach{}, fmt.Errorf("gorigin attach wrote a snapshot that is not JSON: %w", err)
	}
	a := attach{
		freeze:   freeze,
		after:    after,
		reported: time.Duration(s.Source.FreezeMicros) * time.Microsecond,
		wall:     wall,
		rss:      rss,
	}
	if err := checkSnapshot(&s, t.pid, t.n); err != nil {
		return attach{}, fmt.Errorf("gorigin attach (target saw a %.1f ms freeze, gorigin reported %.1f ms, wall %.0f ms): %w",
			ms(a.freeze), ms(a.reported), ms(a.wall), err)
	}
	return a, nil
}

// origin is one of bigtarget's go statements: the function holding it, how many goroutines
// it started for -n n, and the state they all wait in.
type origin struct {
	fn    string
	count int
	wait  string
}

// bigtargetOrigins is bigtarget's split of n goroutines among its six go statements (its
// counts function): 40 %, 20 %, 10 %, 10 %, 10 % and the rest.
func bigtargetOrigins(n int) []origin {
	o := []origin{
		{"main.spawnWorkers", n * 4 / 10, "chan receive"},
		{"main.spawnReaders", n * 2 / 10, "select"},
		{"main.spawnWatchers", n / 10, "sync.Mutex.Lock"},
		{"main.spawnSleepers", n / 10, "sleep"},
		{"main.spawnWaiters", n / 10, "sync.Cond.Wait"},
		{"main.spawnSenders", 0, "chan send"},
	}
	o[5].count = n - o[0].count - o[1].count - o[2].count - o[3].count - o[4].count
	return o
}

// checkCounts compares per-origin counts (keyed by the function holding the go statement)
// with bigtarget's: exactly, for each of its six origins.
func checkCounts(got map[string]int, n int) error {
	for _, want := range bigtargetOrigins(n) {
		if got[want.fn] != want.count {
			return fmt.Errorf("%d goroutines created in %s, want %d", got[want.fn], want.fn, want.count)
		}
	}
	return nil
}

// checkSnapshot fails unless s is a complete snapshot of the bigtarget that parked n
// goroutines: live with pid (or a core when kind is "core"), at least n goroutines, and
// exactly the number bigtarget started from each of its six go statements (they never
// exit), each in its own wait state.
func checkSnapshot(s *snapshot.Snapshot, pid, n int) error {
	return checkSnapshotOf(s, "live", pid, n)
}

func checkSnapshotOf(s *snapshot.Snapshot, kind string, pid, n int) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if string(s.Source.Kind) != kind || (kind == "live" && s.Source.Pid != pid) {
		return fmt.Errorf("snapshot of %s pid %d, want %s pid %d", s.Source.Kind, s.Source.Pid, kind, pid)
	}
	if s.Source.Partial {
		return fmt.Errorf("partial snapshot (%d goroutines): the read hit the freeze deadline", len(s.Goroutines))
	}
	if len(s.Goroutines) < n {
		return fmt.Errorf("snapshot has %d goroutines, want at least %d", len(s.Goroutines), n)
	}
	byOrigin := map[string]int{}
	waits := map[string]string{}
	for _, o := range bigtargetOrigins(n) {
		waits[o.fn] = o.wait
	}
	for _, g := range s.Goroutines {
		if g.Origin == nil {
			continue
		}
		byOrigin[g.Origin.Func]++
		if want, ok := waits[g.Origin.Func]; ok && g.WaitReason != want {
			return fmt.Errorf("goroutine %d created in %s waits on %q, want %q", g.ID, g.Origin.Func, g.WaitReason, want)
		}
	}
	if err := checkCounts(byOrigin, n); err != nil {
		return fmt.Errorf("snapshot has %w", err)
	}
	return nil
}

// idleFreeze is the largest gap of an idle target over 100ms: the resolution of the
// target's freeze measurement on this machine.
func idleFreeze(t *target) (time.Duration, error) {
	if err := t.reset(); err != nil {
		return 0, err
	}
	time.Sleep(100 * time.Millisecond)
	return t.freeze()
}

// attachSetup is what the attach benchmarks start from: the shared target, the gorigin
// binary and the target's own freeze-free heartbeat gap (idleFreeze).
func attachSetup(b *testing.B) (t *target, gorigin string, idle time.Duration) {
	t = sharedTarget(b)
	gorigin, err := goriginBinary(b)
	if err != nil {
		b.Fatal(err)
	}
	if idle, err = idleFreeze(t); err != nil {
		b.Fatal(err)
	}
	return t, gorigin, idle
}

// BenchmarkAttach100k attaches gorigin to the bigtarget once per iteration. Its metrics
// are medians over the iterations, except max-target-freeze-ms and peak-rss-MB.
func BenchmarkAttach100k(b *testing.B) {
	t, gorigin, idle := attachSetup(b)
	var freeze, after, reported, wall []time.Duration
	var peak int64
	for i := 0; i < b.N; i++ {
		a, err := attachOnce(t, gorigin, shared.dir)
		if err != nil {
			shared.mu.Lock()
			shared.goriginFailed = err
			shared.mu.Unlock()
			b.Fatalf("attach %d of %d: %v", i+1, b.N, err)
		}
		freeze, reported, wall = append(freeze, a.freeze), append(reported, a.reported), append(wall, a.wall)
		after = append(after, a.after)
		peak = max(peak, a.rss)
	}
	shared.mu.Lock()
	shared.goriginFreeze, shared.goriginWall, shared.haveGorigin = median(freeze), median(wall), true
	shared.mu.Unlock()

	b.ReportMetric(0, "ns/op") // the process timing below is the point, not the loop's
	b.ReportMetric(float64(t.n), "goroutines")
	b.ReportMetric(ms(median(freeze)), "target-freeze-ms")
	b.ReportMetric(ms(slices.Max(freeze)), "max-target-freeze-ms")
	b.ReportMetric(ms(slices.Min(freeze)), "best-target-freeze-ms")
	b.ReportMetric(ms(median(after)), "after-thaw-gap-ms")
	b.ReportMetric(ms(median(reported)), "reported-freeze-ms")
	b.ReportMetric(ms(median(wall)), "wall-ms")
	b.ReportMetric(float64(peak)/1e6, "peak-rss-MB")
	b.ReportMetric(ms(idle), "idle-freeze-ms")
}

// goriginForRatio returns gorigin's median freeze and wall time on the shared target: the
// ones BenchmarkAttach100k recorded in this run, or three fresh attaches when it did not
// run. ok is false (and the reason logged) when gorigin cannot be built or failed once in
// this run: a ratio against a broken run is worthless.
func goriginForRatio(b *testing.B, t *target) (freeze, wall time.Duration, ok bool) {
	shared.mu.Lock()
	have, failed := shared.haveGorigin, shared.goriginFailed
	freeze, wall = shared.goriginFreeze, shared.goriginWall
	shared.mu.Unlock()
	if failed != nil {
		b.Logf("gorigin attach failed in this run, ratios omitted: %v", failed)
		return 0, 0, false
	}
	if have {
		return freeze, wall, true
	}
	gorigin, err := goriginBinary(b)
	if err != nil {
		b.Logf("no gorigin to compare with, ratios omitted: %v", err)
		return 0, 0, false
	}
	var freezes, walls []time.Duration
	for range 3 {
		a, err := attachOnce(t, gorigin, shared.dir)
		if err != nil {
			shared.mu.Lock()
			shared.goriginFailed = err
			shared.mu.Unlock()
			b.Logf("gorigin attach failed, ratios omitted: %v", err)
			return 0, 0, false
		}
		freezes, walls = append(freezes, a.freeze), append(walls, a.wall)
	}
	shared.mu.Lock()
	shared.goriginFreeze, shared.goriginWall, shared.haveGorigin = median(freezes), median(walls), true
	shared.mu.Unlock()
	return median(freezes), median(walls), true
}

// reportRatios reports a peer's freeze and wall time as multiples of gorigin's. The
// denominators are floored at 10µs so that a freeze below the watcher's resolution gives a
// large ratio, not an infinite one.
func reportRatios(b *testing.B, t *target, peerFreeze, peerWall time.Duration) {
	freeze, wall, ok := goriginForRatio(b, t)
	if !ok {
		return
	}
	b.ReportMetric(ms(peerFreeze)/max(ms(freeze), 0.01), "peer-freeze/gorigin-freeze")
	b.ReportMetric(ms(peerWall)/max(ms(wall), 0.01), "peer-wall/gorigin-wall")
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
