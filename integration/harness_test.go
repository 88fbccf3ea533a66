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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/integration/oracle"
	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

var fullMatrix = flag.Bool("gorigin.full", false, "run the whole toolchain × build-mode matrix (also GORIGIN_FULL=1)")

// goriginBin is the gorigin command built by TestMain, or goriginErr why it is not.
var (
	goriginBin string
	goriginErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	goriginBin, goriginErr = testenv.Gorigin()
	cleanup := testenv.IsolateCache()
	code := m.Run()
	cleanup()
	os.Exit(code)
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
func (v variant) minor() int { return testenv.Minor(v.Toolchain) }

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

// build is how variant v builds the program in srcDir, with extra go build flags.
// -gcflags=-m=2 makes the compiler report its inlining decisions for the main package
// (the build cache replays them, so this costs nothing on a cached build).
func (v variant) build(srcDir string, flags ...string) testenv.Build {
	mode := "-buildmode=exe"
	if v.PIE {
		mode = "-buildmode=pie"
	}
	flags = append([]string{mode, "-gcflags=-m=2"}, flags...)
	if v.Trimpath {
		flags = append(flags, "-trimpath")
	}
	return testenv.Build{Dir: srcDir, Toolchain: v.Toolchain, Flags: flags, Env: []string{"CGO_ENABLED=" + strconv.Itoa(btoi(v.Cgo))}}
}

// prebuild starts building the variants of the program in srcDir in the background, in
// order and two at a time, so that later variants build while earlier ones are tested.
func prebuild(srcDir string, vs []variant) {
	bs := make([]testenv.Build, len(vs))
	for i, v := range vs {
		bs[i] = v.build(srcDir)
	}
	testenv.Prebuild(bs...)
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
	return builtProgram(t, srcDir, v).Path
}

// builtProgram waits for the build of the program in srcDir as v, skipping or failing
// the test as fixtureBinary does.
func builtProgram(t testing.TB, srcDir string, v variant) testenv.Built {
	t.Helper()
	b := testenv.Do(v.build(srcDir))
	switch {
	case b.Skip != "":
		t.Skipf("cannot build %s here: %s", v, b.Skip)
	case b.Err != nil:
		t.Fatalf("build %s of %s: %v", v, srcDir, b.Err)
	}
	t.Logf("%s %s built in %v", filepath.Base(srcDir), v, b.Took.Round(time.Millisecond))
	return b
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

// toolchainMissing says why variant v cannot be built here, or "".
func toolchainMissing(v variant) string {
	if why := testenv.Missing(v.Toolchain); why != "" {
		return why
	}
	if v.Cgo {
		if _, err := exec.LookPath("gcc"); err != nil {
			return "CGO_ENABLED=1 needs a C compiler (gcc) on PATH"
		}
	}
	return ""
}
