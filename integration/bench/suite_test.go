package bench

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// The suite (TestSuite) runs every tool against bigtargets of several sizes, live and from
// a core, and writes one Markdown table per size. It runs only when asked:
//
//	go test ./integration/bench -run TestSuite -timeout 3h -args -suite -write-table ../BENCHMARKS.md
var (
	suiteOn     = flag.Bool("suite", false, "run the benchmark suite (TestSuite): every tool, every size, live and core")
	suiteSizes  = flag.String("sizes", "1000,10000,100000,1000000", "suite: goroutine counts of the targets, comma-separated")
	suiteRuns   = flag.Int("runs", 3, "suite: runs of each fast tool per size (gdb, dlv, gcore and gorigin's gdb and delve backends run once, and every tool at 1,000,000 goroutines)")
	suiteLimit  = flag.Duration("tool-timeout", 15*time.Minute, "suite: kill a tool that runs longer than this and record the timeout")
	suiteSkip   = flag.String("skip", "", "suite: tools to leave out, comma-separated names as in the table's first column, or 'core'")
	suiteWrite  = flag.String("write-table", "", "suite: write the tables into this Markdown file, between its suite markers")
	suiteBinary = flag.String("gorigin", "", "suite: the gorigin binary to measure (default: build this module)")
	suiteMarker = [2]string{"<!-- suite:begin -->", "<!-- suite:end -->"}
)

// row is one tool's measurement at one size.
type row struct {
	tool      string
	runs      int
	freeze    time.Duration // median, measured by the target; -1 when it does not apply (cores)
	maxFreeze time.Duration
	reported  time.Duration // gorigin's own figure; -1 when there is none
	wall      time.Duration // median
	rss       int64         // peak over the runs, bytes; -1 when the tool is not a process of its own
	answer    string        // what the tool's answer held, checked against bigtarget's counts
	ok        bool          // the answer was complete and right
}

// sizeResult is every row of one size.
type sizeResult struct {
	n                     int
	live, core            []row
	loadBefore, loadAfter string
	targetRSS, coreBytes  int64
	idleFreeze            time.Duration // the largest gap of the target over 100 ms with no tool: the noise floor
}

func TestSuite(t *testing.T) {
	if !*suiteOn {
		t.Skip("the benchmark suite runs with -args -suite (see integration/BENCHMARKS.md)")
	}
	dir := t.TempDir()
	var sizes []int
	for _, f := range strings.Split(*suiteSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 10 {
			t.Fatalf("-sizes %q: want goroutine counts of at least 10", *suiteSizes)
		}
		sizes = append(sizes, n)
	}
	gorigin := *suiteBinary
	if gorigin == "" {
		var err error
		if gorigin, err = testenv.Gorigin(); err != nil {
			t.Fatal(err)
		}
	}
	s := &suite{t: t, dir: dir, gorigin: gorigin, skip: map[string]bool{}}
	for _, k := range strings.Split(*suiteSkip, ",") {
		s.skip[strings.TrimSpace(k)] = true
	}
	s.gdb, _ = exec.LookPath("gdb")
	s.dlv, _ = exec.LookPath("dlv")
	s.gcore, _ = exec.LookPath("gcore")
	if goroot, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		s.gdbScript = filepath.Join(strings.TrimSpace(string(goroot)), "src", "runtime", "runtime-gdb.py")
	}
	started := time.Now()
	var results []sizeResult
	// The tables are written after every tool: a long run stopped half-way keeps what it measured.
	s.progress = func(cur sizeResult) {
		if *suiteWrite == "" {
			return
		}
		doc, err := os.ReadFile(*suiteWrite)
		if err == nil {
			doc, err = replaceSection(doc, markdown(machine(), started, append(slices.Clone(results), cur)))
		}
		if err == nil {
			err = os.WriteFile(*suiteWrite, doc, 0o644)
		}
		if err != nil {
			t.Fatalf("-write-table: %v", err)
		}
	}
	for _, n := range sizes {
		results = append(results, s.size(n))
	}
	t.Logf("\n%s", markdown(machine(), started, results))
	for _, r := range results {
		for _, row := range append(slices.Clone(r.live), r.core...) {
			if strings.HasPrefix(row.tool, "gorigin") && !row.ok {
				t.Errorf("%d goroutines, %s: %s", r.n, row.tool, row.answer)
			}
		}
	}
}

type suite struct {
	t                          *testing.T
	dir, gorigin               string
	gdb, dlv, gcore, gdbScript string
	skip                       map[string]bool
	coreN                      int // the size of the process the current core is of
	curN                       int // the size being measured
	progress                   func(sizeResult)
}

// size starts a bigtarget of n goroutines and measures every tool on it, then on a core of it.
func (s *suite) size(n int) sizeResult {
	t := s.t
	r := sizeResult{n: n, loadBefore: loadAvg()}
	s.curN = n
	t.Logf("%d goroutines: starting the target (load average %s)", n, r.loadBefore)
	tg, err := startTarget(n)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.stop()
	r.targetRSS = vmRSS(tg.pid)
	if idle, err := idleFreeze(tg); err == nil {
		r.idleFreeze = idle
	}
	pid := strconv.Itoa(tg.pid)
	slowMax := "--max-freeze=" + (*suiteLimit).String()

	live := []struct {
		name string
		slow bool
		need string // a program that must be on PATH
		run  func() (measured, error)
	}{
		{"gorigin attach", false, "", func() (measured, error) { return s.goriginText(tg, "attach", pid) }},
		{"gorigin attach --format json", false, "", func() (measured, error) { return s.goriginJSON(tg, "live", "attach", pid) }},
		{"gorigin attach --stacks", false, "", func() (measured, error) { return s.goriginText(tg, "attach", pid, "--stacks") }},
		{"gorigin attach --freeze=never", false, "", func() (measured, error) { return s.goriginText(tg, "attach", pid, "--freeze=never") }},
		{"gorigin attach --backend delve", true, "", func() (measured, error) {
			return s.goriginText(tg, "attach", pid, "--backend", "delve", slowMax)
		}},
		{"gorigin attach --backend gdb", true, "gdb", func() (measured, error) {
			return s.goriginText(tg, "attach", pid, "--backend", "gdb", slowMax)
		}},
		{"pprof goroutine?debug=2", false, "", func() (measured, error) { return s.debug2(tg) }},
		{"dlv attach + goroutines -group goloc", true, "dlv", func() (measured, error) {
			return s.dlvGoloc(tg, "goroutines -group goloc\nexit\nn\n", "attach", pid, "--allow-non-terminal-interactive=true", "--check-go-version=false")
		}},
		{"gdb + runtime-gdb.py info goroutines", true, "gdb", func() (measured, error) { return s.gdbInfo(tg) }},
	}
	for _, tool := range live {
		if row, ok := s.measure(tool.name, tool.slow, tool.need, tool.run); ok {
			r.live = append(r.live, row)
			r.loadAfter = loadAvg()
			s.progress(r)
		}
	}

	if !s.skip["core"] && s.gcore != "" {
		s.cores(tg, &r)
	}
	r.loadAfter = loadAvg()
	s.progress(r)
	return r
}

// cores writes a core of the target with gcore and measures the tools that read cores
// into r.core.
func (s *suite) cores(tg *target, r *sizeResult) {
	prefix := filepath.Join(s.dir, "core")
	add := func(row row) {
		r.core = append(r.core, row)
		r.loadAfter = loadAvg()
		s.progress(*r)
	}
	gc, ok := s.measure("gcore (writes the core)", true, "", func() (measured, error) {
		m, _, err := s.runPeer(tg, "", s.gcore, "-o", prefix, strconv.Itoa(tg.pid))
		m.answer, m.ok = fmt.Sprintf("a core; gcore kept the target stopped %.0f ms", ms(m.freeze)), true
		return m, err
	})
	if ok {
		add(gc)
	}
	core := fmt.Sprintf("%s.%d", prefix, tg.pid)
	fi, err := os.Stat(core)
	if err != nil {
		s.t.Logf("%d goroutines: no core to measure: %v", tg.n, err)
		return
	}
	defer os.Remove(core)
	r.coreBytes = fi.Size()
	s.coreN = tg.n
	exe := tg.cmd.Path
	for _, tool := range []struct {
		name string
		slow bool
		need string
		run  func() (measured, error)
	}{
		{"gorigin core", false, "", func() (measured, error) { return s.goriginText(nil, "core", core, "--exe", exe) }},
		{"gorigin core --format json", false, "", func() (measured, error) { return s.goriginJSON(nil, "core", "core", core, "--exe", exe) }},
		{"gorigin core --backend delve", true, "", func() (measured, error) {
			return s.goriginText(nil, "core", core, "--exe", exe, "--backend", "delve")
		}},
		{"gorigin core --backend gdb", true, "gdb", func() (measured, error) {
			return s.goriginText(nil, "core", core, "--exe", exe, "--backend", "gdb")
		}},
		{"dlv core + goroutines -group goloc", true, "dlv", func() (measured, error) {
			return s.dlvGoloc(nil, "goroutines -group goloc\nexit\n", "core", exe, core, "--allow-non-terminal-interactive=true", "--check-go-version=false")
		}},
	} {
		if row, ok := s.measure(tool.name, tool.slow, tool.need, tool.run); ok {
			add(row)
		}
	}
}

// measured is one run of one tool.
type measured struct {
	freeze, reported, wall time.Duration
	rss                    int64
	answer                 string
	ok                     bool
}

// measure runs a tool once (slow) or -runs times and reduces the runs to a row; ok is false
// when the tool is skipped. A run that fails ends the tool's runs and is the row's answer.
func (s *suite) measure(name string, slow bool, need string, run func() (measured, error)) (row, bool) {
	if s.skip[name] {
		return row{}, false
	}
	switch {
	case need == "gdb" && s.gdb == "", need == "dlv" && s.dlv == "":
		s.t.Logf("%s: %s is not on PATH, left out", name, need)
		return row{}, false
	}
	runs := *suiteRuns
	if slow || s.curN >= 1000000 {
		runs = 1 // and at 1,000,000 goroutines every tool runs once: each run takes minutes
	}
	var freeze, reported, wall []time.Duration
	out := row{tool: name, rss: -1, reported: -1, freeze: -1, maxFreeze: -1}
	for i := 0; i < runs; i++ {
		m, err := run()
		if err != nil {
			out.answer, out.ok = "failed: "+failure(err), false
			s.t.Logf("%s: %v", name, err)
			if len(wall) == 0 {
				out.wall, out.runs = m.wall, 1
				return out, true
			}
			break
		}
		freeze, reported, wall = append(freeze, m.freeze), append(reported, m.reported), append(wall, m.wall)
		out.rss = max(out.rss, m.rss)
		out.answer, out.ok = m.answer, m.ok
		if !m.ok {
			break
		}
	}
	out.runs = len(wall)
	out.wall = median(wall)
	if freeze[0] >= 0 {
		out.freeze, out.maxFreeze = median(freeze), slices.Max(freeze)
	}
	if reported[0] >= 0 {
		out.reported = median(reported)
	}
	s.t.Logf("%s: freeze %.1f ms, wall %.0f ms, rss %.0f MB: %s", name, ms(out.freeze), ms(out.wall), float64(out.rss)/1e6, out.answer)
	return out, true
}

// window runs f inside a gap-watcher window of tg (when tg is not nil: a live target) and
// checks that the target is left running and untraced; a target left stopped is continued.
func window(tg *target, m *measured, f func() error) error {
	m.freeze, m.reported = -1, -1
	if tg == nil {
		return f()
	}
	if err := tg.reset(); err != nil {
		return err
	}
	runErr := f()
	freeze, err := tg.freeze()
	if err != nil {
		return errors.Join(runErr, err)
	}
	m.freeze = freeze
	if err := tg.checkRunning(); err != nil {
		syscall.Kill(tg.pid, syscall.SIGCONT) // ours: let it run for the next tool
		return errors.Join(runErr, err)
	}
	return runErr
}

// goriginText runs gorigin with the default text table (what a user reads) and checks the
// table's per-origin counts and states against bigtarget's.
func (s *suite) goriginText(tg *target, args ...string) (measured, error) {
	var m measured
	var out bytes.Buffer
	err := window(tg, &m, func() (err error) {
		m.wall, m.rss, err = runTool(*suiteLimit, "", &out, s.gorigin, args...)
		return err
	})
	if err != nil {
		return m, err
	}
	if f := frozenHeader.FindSubmatch(out.Bytes()); f != nil && m.freeze >= 0 {
		if d, err := time.ParseDuration(strings.ReplaceAll(string(f[1]), ",", "") + string(f[2])); err == nil {
			m.reported = d
		}
	}
	n := s.n(tg, args)
	counts, states := textGroups(out.Bytes())
	m.answer, m.ok = verdict(counts, n, "6 origins, counts and states exact")
	if m.ok {
		for _, o := range bigtargetOrigins(n) {
			if states[o.fn] != o.wait {
				m.answer, m.ok = fmt.Sprintf("%s shown in state %q, want %q", o.fn, states[o.fn], o.wait), false
			}
		}
	}
	return m, nil
}

// goriginJSON runs gorigin --format json and checks every goroutine of the snapshot.
func (s *suite) goriginJSON(tg *target, kind string, args ...string) (measured, error) {
	var m measured
	file := filepath.Join(s.dir, "snapshot.json")
	args = append(args, "--format", "json", "-o", file)
	err := window(tg, &m, func() (err error) {
		m.wall, m.rss, err = runTool(*suiteLimit, "", nil, s.gorigin, args...)
		return err
	})
	if err != nil {
		return m, err
	}
	snap, err := readSnapshot(file)
	if err != nil {
		return m, err
	}
	pid := 0
	if tg != nil {
		pid = tg.pid
		m.reported = time.Duration(snap.Source.FreezeMicros) * time.Microsecond
	}
	m.answer, m.ok = "every goroutine checked: origin and state", true
	if err := checkSnapshotOf(snap, kind, pid, s.n(tg, args)); err != nil {
		m.answer, m.ok = err.Error(), false
	}
	return m, nil
}

// n is the size of the target a run was about: tg's, or the current core's.
func (s *suite) n(tg *target, args []string) int {
	if tg != nil {
		return tg.n
	}
	return s.coreN
}

// debug2 fetches the runtime's own dump over HTTP; its peak RSS is the target's, not a tool's.
func (s *suite) debug2(tg *target) (measured, error) {
	var m measured
	var body []byte
	err := window(tg, &m, func() (err error) {
		start := time.Now()
		body, err = fetch(&http.Client{Timeout: *suiteLimit}, "http://"+tg.addr+"/debug/pprof/goroutine?debug=2")
		m.wall = time.Since(start)
		return err
	})
	if err != nil {
		return m, err
	}
	m.rss = -1
	m.answer, m.ok = verdict(dumpOrigins(body), tg.n, "6 origins exact")
	if len(body) >= pprofDumpLimit || countDumpGoroutines(body) < tg.n {
		m.answer, m.ok = fmt.Sprintf("truncated at %d MB: %d goroutines listed", len(body)>>20, countDumpGoroutines(body)), false
	} else {
		m.answer += fmt.Sprintf(" (%.0f MB of text)", float64(len(body))/1e6)
	}
	return m, nil
}

// dlvGoloc runs dlv with a goroutines -group goloc script on stdin and checks its groups.
func (s *suite) dlvGoloc(tg *target, script string, args ...string) (measured, error) {
	m, out, err := s.runPeer(tg, script, s.dlv, args...)
	if err != nil {
		return m, err
	}
	counts, total := dlvOrigins(out)
	n := s.n(tg, nil)
	m.answer, m.ok = verdict(counts, n, fmt.Sprintf("6 origins exact, %d goroutines in all", total))
	return m, nil
}

// gdbInfo runs gdb with the runtime-gdb.py of the target's toolchain and info goroutines. Its
// answer has no go statements: only the count of goroutines listed can be checked.
func (s *suite) gdbInfo(tg *target) (measured, error) {
	if _, err := os.Stat(s.gdbScript); err != nil {
		return measured{}, fmt.Errorf("no runtime-gdb.py for the target's toolchain: %w", err)
	}
	m, out, err := s.runPeer(tg, "", s.gdb, "-p", strconv.Itoa(tg.pid), "-batch", "-nx",
		"-iex", "set auto-load python-scripts off", "-ex", "source "+s.gdbScript, "-ex", "info goroutines")
	if err != nil {
		return m, err
	}
	listed := len(gdbGoroutine.FindAll(out, -1))
	m.ok = listed >= tg.n
	m.answer = fmt.Sprintf("%d goroutines listed, no go statements to check", listed)
	if !m.ok {
		m.answer = fmt.Sprintf("incomplete: %d goroutines listed, want at least %d", listed, tg.n)
	}
	return m, nil
}

// runPeer runs another program in a window and returns its stdout.
func (s *suite) runPeer(tg *target, stdin, name string, args ...string) (measured, []byte, error) {
	var m measured
	var out bytes.Buffer
	err := window(tg, &m, func() (err error) {
		m.wall, m.rss, err = runTool(*suiteLimit, stdin, &out, name, args...)
		return err
	})
	return m, out.Bytes(), err
}

// verdict compares per-origin counts with bigtarget's for n goroutines.
func verdict(counts map[string]int, n int, okText string) (string, bool) {
	if err := checkCounts(counts, n); err != nil {
		return "wrong: " + err.Error(), false
	}
	return okText, true
}

// frozenHeader matches the freeze in the text table's header: "frozen 1.3 ms".
var frozenHeader = regexp.MustCompile(`frozen ([\d.,]+) ?(µs|us|ms|s)\b`)

// textGroup matches a row of gorigin's text table: "  400  chan receive     main.spawnWorkers  ...".
var textGroup = regexp.MustCompile(`(?m)^\s*([\d,]+)\s+(\S.*?)\s+(main\.spawn\w+)\s`)

// textGroups reads the bigtarget's groups from gorigin's text table: count and state by
// the function holding the go statement.
func textGroups(out []byte) (counts map[string]int, states map[string]string) {
	counts, states = map[string]int{}, map[string]string{}
	for _, g := range textGroup.FindAllSubmatch(out, -1) {
		c, _ := strconv.Atoi(strings.ReplaceAll(string(g[1]), ",", ""))
		counts[string(g[3])] += c
		states[string(g[3])] = string(g[2])
	}
	return counts, states
}

// failure is the gist of a tool's failure for the table: a timeout, or the last line the
// tool wrote to stderr (runTool puts it after the command line).
func failure(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	if strings.Contains(lines[0], "deadline exceeded") {
		return "timed out after " + (*suiteLimit).String()
	}
	return lines[len(lines)-1]
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// vmRSS is a process's resident set in bytes, or -1.
func vmRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return -1
}
