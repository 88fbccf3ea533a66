package reliability

// The harness: start the service, run gorigin (and measure it). Building them and reading
// a process's state from /proc are internal/testenv's, shared with the integration
// package's harness.

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
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
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
	// The cache testenv builds into is readable by everyone: one test runs gorigin as
	// the user nobody.
	goriginBin, goriginErr = testenv.Gorigin()
	cleanup := testenv.IsolateCache()
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func flagSet(name string) (set bool) {
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func needGorigin(t testing.TB) string {
	t.Helper()
	if goriginErr != nil {
		t.Fatalf("the gorigin command does not build: %v", goriginErr)
	}
	return goriginBin
}

// serviceBinary builds testdata/service with the host toolchain, extra environment
// ("CGO_ENABLED=1") and go build flags ("-race").
func serviceBinary(t testing.TB, env []string, flags ...string) string {
	t.Helper()
	return testenv.Binary(t, testenv.Build{Dir: "testdata/service", Env: env, Flags: flags})
}

// plainService is the service built the default way (static, with DWARF).
func plainService(t testing.TB) string {
	return serviceBinary(t, []string{"CGO_ENABLED=0"})
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
	MaxRSS         int64 // gorigin's own peak, bytes: set only by runMeasured; -1 when not measured
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
