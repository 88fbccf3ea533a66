package reliability

// The harness: build gorigin and the service once, start the service, run gorigin (and
// measure it), and read a process's state from /proc. Small on purpose; the integration
// package's harness (integration/harness_test.go) is the full one, and its pieces needed
// here are copied rather than exported from a _test.go file.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// full is GORIGIN_RELIABILITY=full: the counts (200 attaches, 100 kills per
// backend) instead of the short version's.
var full = os.Getenv("GORIGIN_RELIABILITY") == "full"

// count is n under GORIGIN_RELIABILITY=full, else short.
func count(n, short int) int {
	if full {
		return n
	}
	return short
}

var (
	workDir    string // everything the tests build; TestMain removes it
	goriginBin string
	goriginErr error
)

func TestMain(m *testing.M) {
	// The parallel tests mostly wait for child processes: run four at a time even on two
	// cores, unless -parallel says otherwise.
	flag.Parse()
	if !flagSet("test.parallel") {
		flag.Set("test.parallel", "4")
	}
	dir, err := os.MkdirTemp("", "gorigin-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(1)
	}
	// Readable by everyone: one test runs gorigin as the user nobody.
	os.Chmod(dir, 0o755)
	workDir = dir
	goriginBin, goriginErr = goBuild("../..", filepath.Join(dir, "gorigin"), nil, "github.com/gorigin-dev/gorigin")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func flagSet(name string) (set bool) {
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// goBuild runs "go build -o out flags... pkg" in dir with extra environment.
func goBuild(dir, out string, env []string, pkg string, flags ...string) (string, error) {
	args := append(append([]string{"build", "-o", out}, flags...), pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"GOFLAGS=", "GOWORK=off"}, env...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out, nil
}

func needGorigin(t testing.TB) string {
	t.Helper()
	if goriginErr != nil {
		t.Fatalf("the gorigin command does not build: %v", goriginErr)
	}
	return goriginBin
}

// A serviceBuild is one way of building testdata/service, done once per run.
type serviceBuild struct {
	once sync.Once
	bin  string
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*serviceBuild{}
)

// serviceBinary builds testdata/service with the host toolchain, extra environment
// ("CGO_ENABLED=1") and go build flags ("-race"); name names the build.
func serviceBinary(t testing.TB, name string, env []string, flags ...string) string {
	t.Helper()
	buildsMu.Lock()
	b := builds[name]
	if b == nil {
		b = &serviceBuild{}
		builds[name] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() {
		b.bin, b.err = goBuild("testdata/service", filepath.Join(workDir, "service-"+name), env, ".", flags...)
	})
	if b.err != nil {
		t.Fatalf("build the service (%s): %v", name, b.err)
	}
	return b.bin
}

// plainService is the service built the default way (static, with DWARF).
func plainService(t testing.TB) string {
	return serviceBinary(t, "plain", []string{"CGO_ENABLED=0"})
}

// A service is a running testdata/service. Cleanup kills it (by pid) and reaps it.
type service struct {
	Pid    int
	Addr   string
	cmd    *exec.Cmd
	stdin  io.Closer
	stderr *lockedBuffer
	client *http.Client
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var readyRE = regexp.MustCompile(`ready pid=(\d+) addr=(127\.0\.0\.1:\d+)`)

// startService starts bin (a build of testdata/service, possibly behind a wrapper such as
// unshare: argv is the whole command line) and waits for its ready line.
func startService(t testing.TB, argv ...string) *service {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &service{cmd: cmd, stdin: stdin, stderr: &lockedBuffer{}}
	s.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	t.Cleanup(s.stop)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-lines:
		m := readyRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("service %v: want a ready line, got %q\nstderr:\n%s", argv, line, s.stderr)
		}
		s.Pid, _ = strconv.Atoi(m[1])
		s.Addr = m[2]
	case <-time.After(time.Minute):
		t.Fatalf("service %v did not say ready within a minute\nstderr:\n%s", argv, s.stderr)
	}
	return s
}

// stop ends the service: it may have been left stopped by a peer debugger, so it is
// continued first; then killed by pid and reaped.
func (s *service) stop() {
	s.stdin.Close()
	s.client.CloseIdleConnections()
	if s.cmd.ProcessState == nil {
		syscall.Kill(s.cmd.Process.Pid, syscall.SIGCONT)
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// get fetches path from the service.
func (s *service) get(path string) ([]byte, error) {
	resp, err := s.client.Get("http://" + s.Addr + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return body, nil
}

// serviceStats is the service's /stats: its own goroutine count and heap after a GC.
type serviceStats struct {
	Goroutines  int    `json:"goroutines"`
	HeapInuse   uint64 `json:"heapInuse"`
	HeapObjects uint64 `json:"heapObjects"`
	StackInuse  uint64 `json:"stackInuse"`
}

func (s *service) stats(t testing.TB) serviceStats {
	t.Helper()
	b, err := s.get("/stats")
	if err != nil {
		t.Fatalf("service pid %d: /stats: %v\nstderr:\n%s", s.Pid, err, s.stderr)
	}
	var st serviceStats
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("service /stats: %v: %s", err, b)
	}
	return st
}

// checkServes fails unless the service answers /work within the client's timeout.
func (s *service) checkServes(t testing.TB) {
	t.Helper()
	if _, err := s.get("/work?check"); err != nil {
		t.Errorf("service pid %d does not serve: %v", s.Pid, err)
	}
}

// A run is one finished gorigin (or other command) run.
type run struct {
	Args           []string
	Stdout, Stderr []byte
	Code           int // exit status; -1 when killed by a signal
	Elapsed        time.Duration
	MaxRSS         int64 // bytes
}

func (r *run) String() string {
	return fmt.Sprintf("gorigin %s: exit status %d after %v\nstderr:\n%s", strings.Join(r.Args, " "), r.Code, r.Elapsed.Round(time.Millisecond), r.Stderr)
}

// runGorigin runs gorigin with args, waiting at most two minutes (then kills it by pid
// and fails). attr, if not nil, sets credentials.
func runGorigin(t testing.TB, attr *syscall.SysProcAttr, env []string, args ...string) *run {
	t.Helper()
	bin := needGorigin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = attr
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := &run{Args: args, Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Elapsed: time.Since(start)}
	if cmd.ProcessState != nil {
		r.Code = cmd.ProcessState.ExitCode()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.MaxRSS = ru.Maxrss * 1024
		}
	}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("gorigin %s did not finish within 2 minutes; killed it\nstderr:\n%s", strings.Join(args, " "), stderr.Bytes())
	case errors.As(err, &exit):
	case err != nil:
		t.Fatalf("run gorigin: %v", err)
	}
	return r
}

// attachJSON runs "gorigin attach PID --format json" with flags, requires exit status 0
// and a valid snapshot of that process.
func attachJSON(t testing.TB, pid int, flags ...string) (*snapshot.Snapshot, *run) {
	t.Helper()
	r := runGorigin(t, nil, nil, append([]string{"attach", strconv.Itoa(pid), "--format", "json"}, flags...)...)
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	snap := decodeSnapshot(t, r)
	if snap.Source.Pid != pid {
		t.Fatalf("snapshot of pid %d, want %d", snap.Source.Pid, pid)
	}
	return snap, r
}

func decodeSnapshot(t testing.TB, r *run) *snapshot.Snapshot {
	t.Helper()
	snap, err := snapshot.Decode(bytes.NewReader(r.Stdout))
	if err != nil {
		t.Fatalf("%v\ndecode its snapshot: %v\nstdout starts: %.300s", r, err, r.Stdout)
	}
	if err := snap.Validate(); err != nil {
		t.Fatalf("%v\ninvalid snapshot: %v", r, err)
	}
	return snap
}

// backends are the ways gorigin reads a live process: name and flags.
var backends = []struct {
	name  string
	flags []string
}{
	{"native", nil},
	{"freeze-never", []string{"--freeze=never"}},
	{"delve", []string{"--backend", "delve"}},
	{"gdb", []string{"--backend", "gdb"}},
}

// needBackend skips a test of a backend whose tool is missing (GDB).
func needBackend(t testing.TB, name string) {
	t.Helper()
	if name == "gdb" {
		if _, err := exec.LookPath("gdb"); err != nil {
			t.Skip("--backend gdb needs gdb on PATH (.ci/run installs it)")
		}
	}
}

// A procState is what /proc/PID/status says about one thread.
type procState struct {
	TID       int
	State     string // "S (sleeping)", "t (tracing stop)", ...
	TracerPid int
}

func (s procState) stopped() bool {
	return strings.HasPrefix(s.State, "T") || strings.HasPrefix(s.State, "t")
}

// threadStates reads the State and TracerPid of every thread of pid.
func threadStates(pid int) ([]procState, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, err
	}
	var states []procState
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
		if err != nil {
			continue // the thread exited meanwhile
		}
		s := procState{TID: tid, TracerPid: -1}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			switch v = strings.TrimSpace(v); k {
			case "State":
				s.State = v
			case "TracerPid":
				s.TracerPid, _ = strconv.Atoi(v)
			}
		}
		states = append(states, s)
	}
	if len(states) == 0 {
		return nil, fmt.Errorf("/proc/%d/task lists no threads", pid)
	}
	return states, nil
}

// stuck lists the threads of pid that are stopped or traced.
func stuck(pid int) ([]string, error) {
	states, err := threadStates(pid)
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, s := range states {
		if s.stopped() || s.TracerPid != 0 {
			bad = append(bad, fmt.Sprintf("thread %d: State %q TracerPid %d", s.TID, s.State, s.TracerPid))
		}
	}
	return bad, nil
}

// waitFree waits up to within for every thread of pid to be neither stopped nor traced,
// and returns what is still wrong then (nil: free).
func waitFree(pid int, within time.Duration) []string {
	deadline := time.Now().Add(within)
	for {
		bad, err := stuck(pid)
		if err != nil {
			return []string{err.Error()}
		}
		if len(bad) == 0 || time.Now().After(deadline) {
			return bad
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkRunsFreely fails unless pid runs freely within the given time.
func checkRunsFreely(t testing.TB, pid int, within time.Duration) {
	t.Helper()
	if bad := waitFree(pid, within); bad != nil {
		t.Errorf("pid %d is stopped or traced %v after gorigin ended:\n  %s", pid, within, strings.Join(bad, "\n  "))
	}
}

var ptraceOnce struct {
	sync.Once
	reason string
}

// needPtrace skips the test when this process may not ptrace a child.
func needPtrace(t testing.TB) {
	t.Helper()
	ptraceOnce.Do(func() {
		if runtime.GOOS != "linux" {
			ptraceOnce.reason = "gorigin attaches only on Linux"
			return
		}
		cmd := exec.Command("sleep", "30")
		if err := cmd.Start(); err != nil {
			ptraceOnce.reason = "probe: " + err.Error()
			return
		}
		defer cmd.Wait()
		defer cmd.Process.Kill()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		const ptraceSeize = 0x4206
		if _, _, e := syscall.Syscall6(syscall.SYS_PTRACE, ptraceSeize, uintptr(cmd.Process.Pid), 0, 0, 0, 0); e != 0 {
			ptraceOnce.reason = fmt.Sprintf("PTRACE_SEIZE of a child fails: %v (run as root or with CAP_SYS_PTRACE)", e)
		}
	})
	if ptraceOnce.reason != "" {
		t.Skip("needs ptrace: " + ptraceOnce.reason)
	}
}

// needRoot skips a test that needs root.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// percentile is the q-quantile (0..1) of ds, which it sorts.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	i := int(q * float64(len(ds)-1))
	return ds[i]
}

// loadavg is /proc/loadavg's first three figures, for the log.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
