package integration

// The harness: build gorigin and the fixture variants once, start a fixture, read the
// runtime's own dump of it, run gorigin, and check that a target is neither stopped nor
// traced afterwards. Later backends (core dumps, Delve, GDB, DAP) reuse all of it.

import (
	"bufio"
	"bytes"
	"context"
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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/integration/oracle"
	"github.com/gorigin-dev/gorigin/snapshot"
)

var fullMatrix = flag.Bool("gorigin.full", false, "run the whole toolchain × build-mode matrix (also GORIGIN_FULL=1)")

// workDir holds everything the tests build; TestMain removes it.
var workDir string

// goriginBin is the gorigin command built by TestMain, or goriginErr why it is not.
var (
	goriginBin string
	goriginErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "gorigin-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	workDir = dir
	goriginBin, goriginErr = buildGorigin(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildGorigin builds the gorigin command of this checkout once per test run.
func buildGorigin(dir string) (string, error) {
	bin := filepath.Join(dir, "gorigin")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/gorigin-dev/gorigin")
	cmd.Dir = ".." // the repository root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build github.com/gorigin-dev/gorigin: %v\n%s", err, out)
	}
	return bin, nil
}

// needGorigin fails (not skips) the test when gorigin does not build: the CLI is part of
// what these tests check.
func needGorigin(t testing.TB) string {
	t.Helper()
	if goriginErr != nil {
		t.Fatalf("the gorigin command does not build, so it cannot be tested end to end: %v", goriginErr)
	}
	return goriginBin
}

// goriginRun is one finished run of the gorigin command.
type goriginRun struct {
	Args           []string
	Stdout, Stderr []byte
	Code           int // exit status
	Elapsed        time.Duration
}

func (r *goriginRun) String() string {
	return fmt.Sprintf("gorigin %s: exit status %d after %v\nstderr:\n%s", strings.Join(r.Args, " "), r.Code, r.Elapsed.Round(time.Millisecond), r.Stderr)
}

// runGorigin runs gorigin with args and extra environment ("K=V"), and waits at most two
// minutes for it (then kills it, by its pid, and fails).
func runGorigin(t testing.TB, env []string, args ...string) *goriginRun {
	t.Helper()
	bin := needGorigin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := &goriginRun{Args: args, Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Elapsed: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("gorigin %s did not finish within 2 minutes; killed it\nstderr:\n%s", strings.Join(args, " "), stderr.Bytes())
	case errors.As(err, &exit):
		r.Code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run gorigin: %v", err)
	}
	return r
}

// attachJSON runs "gorigin attach PID --format json" with extra flags, requires exit
// status 0 and a valid snapshot of that live process, and returns it.
func attachJSON(t testing.TB, pid int, env []string, flags ...string) (*snapshot.Snapshot, *goriginRun) {
	t.Helper()
	args := append([]string{"attach", strconv.Itoa(pid), "--format", "json"}, flags...)
	r := runGorigin(t, env, args...)
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	snap, err := snapshot.Decode(bytes.NewReader(r.Stdout))
	if err != nil {
		t.Fatalf("gorigin %s: %v\nstdout starts: %.400s", strings.Join(args, " "), err, r.Stdout)
	}
	if snap.Source.Kind != "live" || snap.Source.Pid != pid {
		t.Fatalf("snapshot source is %+v, want kind live and pid %d", snap.Source, pid)
	}
	return snap, r
}

// A fixture is a running target program started by the test. Cleanup kills it.
type fixture struct {
	Pid  int
	Addr string // host:port of its net/http/pprof server
	cmd  *exec.Cmd
	// stderr collects the fixture's standard error, shown when it misbehaves.
	stderr *lockedBuffer
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

var readyRE = regexp.MustCompile(`^ready pid=(\d+) addr=(127\.0\.0\.1:\d+)$`)

// startFixture starts bin with args and waits for its "ready pid=N addr=A" line. Its
// stdin is a pipe the test holds, so the program exits if the test dies; Cleanup kills
// it by pid and reaps it.
func startFixture(t testing.TB, bin string, args ...string) *fixture {
	t.Helper()
	cmd := exec.Command(bin, args...)
	// Labels in tracebacks (Go 1.26+; older runtimes ignore the setting) let the oracle
	// see them too.
	cmd.Env = append(os.Environ(), "GODEBUG=tracebacklabels=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{cmd: cmd, stderr: &lockedBuffer{}}
	cmd.Stderr = f.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start fixture %s: %v", bin, err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill() // by pid: os.Process holds it
		cmd.Wait()
	})

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
	case line, ok := <-lines:
		m := readyRE.FindStringSubmatch(line)
		if !ok || m == nil {
			t.Fatalf("fixture %s %s: want a ready line, got %q\nstderr:\n%s", bin, strings.Join(args, " "), line, f.stderr)
		}
		f.Pid, _ = strconv.Atoi(m[1])
		f.Addr = m[2]
	case <-time.After(time.Minute):
		t.Fatalf("fixture %s did not say ready within a minute\nstderr:\n%s", bin, f.stderr)
	}
	if f.Pid != cmd.Process.Pid {
		t.Fatalf("fixture says pid %d, started as %d", f.Pid, cmd.Process.Pid)
	}
	return f
}

var httpClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// get fetches path from the fixture's HTTP server.
func (f *fixture) get(path string) ([]byte, error) {
	resp, err := httpClient.Get("http://" + f.Addr + path)
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

// debug2 is the runtime's own view of the fixture: /debug/pprof/goroutine?debug=2,
// parsed.
func (f *fixture) debug2(t testing.TB) []oracle.Goroutine {
	t.Helper()
	text, err := f.get("/debug/pprof/goroutine?debug=2")
	if err != nil {
		t.Fatalf("fixture pid %d: fetch goroutine dump: %v\nstderr:\n%s", f.Pid, err, f.stderr)
	}
	gs, err := oracle.ParseBytes(text)
	if err != nil {
		t.Fatalf("fixture pid %d: parse goroutine dump: %v", f.Pid, err)
	}
	return gs
}

// checkAnswers fails unless the fixture still serves HTTP.
func (f *fixture) checkAnswers(t testing.TB) {
	t.Helper()
	if _, err := f.get("/debug/pprof/"); err != nil {
		t.Errorf("fixture pid %d does not answer HTTP: %v", f.Pid, err)
	}
}

// A threadState is one thread's line of /proc/PID/task/TID/status.
type threadState struct {
	TID       int
	State     string // "S (sleeping)", "t (tracing stop)", ...
	TracerPid int
}

// stopped says whether the thread is stopped by a signal (T) or by a tracer (t).
func (s threadState) stopped() bool {
	return strings.HasPrefix(s.State, "T") || strings.HasPrefix(s.State, "t")
}

// threadStates reads the State and TracerPid of every thread of pid.
func threadStates(pid int) ([]threadState, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, err
	}
	var states []threadState
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
		if errors.Is(err, os.ErrNotExist) {
			continue // the thread exited meanwhile
		}
		if err != nil {
			return nil, err
		}
		s := threadState{TID: tid, TracerPid: -1}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimSpace(v)
			switch k {
			case "State":
				s.State = v
			case "TracerPid":
				s.TracerPid, _ = strconv.Atoi(v)
			}
		}
		if s.State == "" || s.TracerPid < 0 {
			return nil, fmt.Errorf("/proc/%d/task/%d/status has no State or TracerPid", pid, tid)
		}
		states = append(states, s)
	}
	if len(states) == 0 {
		return nil, fmt.Errorf("/proc/%d/task lists no threads", pid)
	}
	return states, nil
}

// runningProblems lists the threads of pid that are stopped or traced.
func runningProblems(pid int) ([]string, error) {
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

// checkRunsFreely fails unless every thread of pid is neither stopped (State T or t) nor
// traced (TracerPid 0), waiting up to within for that to become true.
func checkRunsFreely(t testing.TB, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		bad, err := runningProblems(pid)
		if err != nil {
			t.Errorf("pid %d: %v", pid, err)
			return
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("pid %d is left stopped or traced %v after gorigin ended:\n  %s", pid, within, strings.Join(bad, "\n  "))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// statState is the state letter of /proc/PID/task/TID/stat (the field after the
// parenthesised command name, which may itself hold spaces and parentheses).
func statState(pid, tid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
	if err != nil {
		return "", err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+3 > len(b) {
		return "", fmt.Errorf("malformed /proc/%d/task/%d/stat", pid, tid)
	}
	return string(b[i+2 : i+3]), nil
}

// waitAllTraceStopped waits until every thread of pid is in tracing stop ('t' in
// /proc/PID/task/*/stat), and says how many threads that was.
func waitAllTraceStopped(pid int, within time.Duration) (int, error) {
	deadline := time.Now().Add(within)
	for {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return 0, err
		}
		var notYet []string
		read := 0
		for _, task := range tasks {
			tid, err := strconv.Atoi(task.Name())
			if err != nil {
				continue
			}
			st, err := statState(pid, tid)
			if err != nil {
				continue // the thread exited meanwhile
			}
			read++
			if st != "t" {
				notYet = append(notYet, fmt.Sprintf("%d:%s", tid, st))
			}
		}
		if len(notYet) == 0 && read > 0 {
			return read, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("after %v, threads of pid %d not in tracing stop: %s", within, pid, strings.Join(notYet, " "))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var ptraceOnce struct {
	sync.Once
	reason string
}

// needPtrace skips the test when this process may not ptrace a sibling process (gorigin
// attaching to a fixture the test started), saying why.
func needPtrace(t testing.TB) {
	t.Helper()
	ptraceOnce.Do(func() { ptraceOnce.reason = ptraceUnavailable() })
	if ptraceOnce.reason != "" {
		t.Skip("needs ptrace: " + ptraceOnce.reason)
	}
}

func ptraceUnavailable() string {
	if runtime.GOOS != "linux" {
		return "gorigin attaches only on Linux"
	}
	if os.Geteuid() != 0 && !hasCapSysPtrace() {
		scope, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope")
		if err == nil && strings.TrimSpace(string(scope)) != "0" {
			return "not root, no CAP_SYS_PTRACE, and /proc/sys/kernel/yama/ptrace_scope is " +
				strings.TrimSpace(string(scope)) + " (run as root, or grant CAP_SYS_PTRACE)"
		}
	}
	// A seccomp profile (many containers) may still refuse ptrace: try it on a child.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return "no sleep command to probe ptrace with"
	}
	cmd := exec.Command(sleep, "30")
	if err := cmd.Start(); err != nil {
		return "probe: " + err.Error()
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const ptraceSeize = 0x4206
	if _, _, e := syscall.Syscall6(syscall.SYS_PTRACE, ptraceSeize, uintptr(cmd.Process.Pid), 0, 0, 0, 0); e != 0 {
		return fmt.Sprintf("PTRACE_SEIZE of a child process fails: %v (a seccomp profile? run with --cap-add=SYS_PTRACE or --privileged)", e)
	}
	return ""
}

// hasCapSysPtrace reads CapEff of this process.
func hasCapSysPtrace() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			const capSysPtrace = 19
			return err == nil && caps&(1<<capSysPtrace) != 0
		}
	}
	return false
}

// A variant is one way of building the fixture.
type variant struct {
	Toolchain string // "go1.20.14"; run as GOTOOLCHAIN=<Toolchain>
	PIE       bool   // -buildmode=pie, else exe
	Trimpath  bool   // -trimpath
	Cgo       bool   // CGO_ENABLED=1
}

func (v variant) String() string {
	mode, trim, cgo := "exe", "default", "cgo0"
	if v.PIE {
		mode = "pie"
	}
	if v.Trimpath {
		trim = "trimpath"
	}
	if v.Cgo {
		cgo = "cgo1"
	}
	return v.Toolchain + "-" + mode + "-" + trim + "-" + cgo
}

// minor is the Go minor version of the toolchain: 20 for go1.20.14.
func (v variant) minor() int {
	rest, _ := strings.CutPrefix(v.Toolchain, "go1.")
	n, _ := strconv.Atoi(strings.SplitN(rest, ".", 2)[0])
	return n
}

// fixtureDir is the fixture's source directory, absolute: the runtime prints its files
// under it (without -trimpath).
func fixtureDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "fixture"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// A fixtureBuild is one variant's build, done once per test run.
type fixtureBuild struct {
	once sync.Once
	bin  string
	skip string // why the variant cannot be built here (a missing toolchain or C compiler)
	err  error
	took time.Duration
	// log is the build's output: the compiler's -m report (inlining decisions) on the
	// main package.
	log []byte
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*fixtureBuild{} // by source dir and variant
	// buildSlots bounds concurrent builds: CI has two cores.
	buildSlots = make(chan struct{}, 2)
)

// prebuild starts building the variants of the program in srcDir in the background, in
// order and two at a time, so that later variants build while earlier ones are tested.
func prebuild(srcDir string, vs []variant) {
	queue := make(chan variant, len(vs))
	for _, v := range vs {
		queue <- v
	}
	close(queue)
	for i := 0; i < cap(buildSlots); i++ {
		go func() {
			for v := range queue {
				programBuild(srcDir, v)
			}
		}()
	}
}

// fixtureBinary returns the fixture program built as v, building it if needed. It skips
// the test when v cannot be built on this machine and fails it when the build fails.
func fixtureBinary(t testing.TB, v variant) string {
	t.Helper()
	return programBinary(t, fixtureDir(t), v)
}

// programBinary is fixtureBinary for any program directory under testdata (with its own
// go.mod), so that later tests can add target programs.
func programBinary(t testing.TB, srcDir string, v variant) string {
	t.Helper()
	return builtProgram(t, srcDir, v).bin
}

// builtProgram waits for the build of the program in srcDir as v, skipping or failing
// the test as fixtureBinary does.
func builtProgram(t testing.TB, srcDir string, v variant) *fixtureBuild {
	t.Helper()
	b := programBuild(srcDir, v)
	switch {
	case b.skip != "":
		t.Skipf("cannot build %s here: %s", v, b.skip)
	case b.err != nil:
		t.Fatalf("build %s of %s: %v", v, srcDir, b.err)
	}
	t.Logf("%s %s built in %v", filepath.Base(srcDir), v, b.took.Round(time.Millisecond))
	return b
}

func programBuild(srcDir string, v variant) *fixtureBuild {
	key := srcDir + "\x00" + v.String()
	buildsMu.Lock()
	b := builds[key]
	if b == nil {
		b = &fixtureBuild{}
		builds[key] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() {
		if b.skip = toolchainMissing(v); b.skip != "" {
			return
		}
		buildSlots <- struct{}{}
		defer func() { <-buildSlots }()
		start := time.Now()
		b.bin, b.log, b.err = goBuild(srcDir, v)
		b.took = time.Since(start)
	})
	return b
}

// goBuild builds the program in srcDir as variant v into workDir, and returns the
// build's output: -gcflags=-m=2 makes the compiler report its inlining decisions for the
// main package (the build cache replays them, so this costs nothing on a cached build).
func goBuild(srcDir string, v variant) (string, []byte, error) {
	bin := filepath.Join(workDir, filepath.Base(srcDir)+"-"+v.String())
	args := []string{"build", "-o", bin, "-gcflags=-m=2"}
	if v.PIE {
		args = append(args, "-buildmode=pie")
	} else {
		args = append(args, "-buildmode=exe")
	}
	if v.Trimpath {
		args = append(args, "-trimpath")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = srcDir
	cmd.Env = buildEnv(v)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", out, fmt.Errorf("GOTOOLCHAIN=%s CGO_ENABLED=%d go %s: %v\n%s", v.Toolchain, btoi(v.Cgo), strings.Join(args, " "), err, out)
	}
	return bin, out, nil
}

// buildEnv is the environment of a go command for variant v: the toolchain and cgo
// setting forced, the caller's GOFLAGS and workspace kept out.
func buildEnv(v variant) []string {
	return append(os.Environ(),
		"GOTOOLCHAIN="+v.Toolchain,
		"CGO_ENABLED="+strconv.Itoa(btoi(v.Cgo)),
		"GOFLAGS=",
		"GOWORK=off",
		"GO111MODULE=on",
	)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

var toolchains struct {
	sync.Mutex
	missing map[string]string // toolchain → why it cannot run ("" when it can)
}

// toolchainMissing says why variant v cannot be built here, or "".
func toolchainMissing(v variant) string {
	toolchains.Lock()
	defer toolchains.Unlock()
	if toolchains.missing == nil {
		toolchains.missing = map[string]string{}
	}
	why, ok := toolchains.missing[v.Toolchain]
	if !ok {
		cmd := exec.Command("go", "version")
		cmd.Dir = os.TempDir() // outside any module, so go.mod's go line does not matter
		cmd.Env = buildEnv(v)
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte(v.Toolchain+" ")) {
			why = fmt.Sprintf("GOTOOLCHAIN=%s go version: %v: %s (.ci/run downloads the toolchains)", v.Toolchain, err, bytes.TrimSpace(out))
		}
		toolchains.missing[v.Toolchain] = why
	}
	if why == "" && v.Cgo {
		if _, err := exec.LookPath("gcc"); err != nil {
			why = "CGO_ENABLED=1 needs a C compiler (gcc) on PATH"
		}
	}
	return why
}
