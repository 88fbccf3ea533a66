package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// watchPeriod is the bigtarget gap watcher's sleep: a gap of exactly this long is no freeze.
const watchPeriod = 200 * time.Microsecond

// commandTimeout bounds one answer of the target; a target that does not answer in time is
// frozen or gone, which the benchmark reports instead of hanging.
const commandTimeout = 10 * time.Second

// target is a running bigtarget and the pipe that drives its gap watcher.
type target struct {
	cmd    *exec.Cmd
	pid    int
	addr   string // host:port of its net/http/pprof server
	n      int    // the goroutines it parked (its -n)
	stdin  io.WriteCloser
	lines  chan string // its stdout, one line at a time; closed at EOF
	stderr *bytes.Buffer
}

// startTarget builds bigtarget (testenv), starts it with n goroutines and waits until it
// says it is ready. The caller stops it with stop.
func startTarget(n int) (*target, error) {
	b := testenv.Do(testenv.Build{Dir: filepath.Join("..", "testdata", "bigtarget")})
	if b.Err != nil {
		return nil, b.Err
	}
	bin := b.Path
	cmd := exec.Command(bin, "-n", strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	t := &target{cmd: cmd, n: n, stdin: stdin, lines: make(chan string, 16), stderr: new(bytes.Buffer)}
	cmd.Stderr = t.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		in := bufio.NewScanner(stdout)
		for in.Scan() {
			t.lines <- in.Text()
		}
		close(t.lines)
	}()
	// Parking 100k goroutines takes a few seconds; allow for a slow machine.
	line, err := t.readLine(2 * time.Minute)
	if err == nil {
		_, err = fmt.Sscanf(line, "ready pid=%d addr=%s", &t.pid, &t.addr)
	}
	if err == nil && t.pid != cmd.Process.Pid {
		err = fmt.Errorf("it says pid %d, but it was started as %d", t.pid, cmd.Process.Pid)
	}
	if err != nil {
		t.stop()
		return nil, fmt.Errorf("bigtarget -n %d did not get ready: %w (stderr: %s)", n, err, t.stderr)
	}
	return t, nil
}

func (t *target) readLine(timeout time.Duration) (string, error) {
	select {
	case line, ok := <-t.lines:
		if !ok {
			return "", errors.New("the target closed its stdout (did it exit?)")
		}
		return line, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("no answer from the target in %v (is it stopped? see /proc/%d/status)", timeout, t.cmd.Process.Pid)
	}
}

// command sends one command line and returns the answer line.
func (t *target) command(c string) (string, error) {
	if _, err := io.WriteString(t.stdin, c+"\n"); err != nil {
		return "", fmt.Errorf("send %q to the target: %w", c, err)
	}
	line, err := t.readLine(commandTimeout)
	if err != nil {
		return "", fmt.Errorf("%s: %w", c, err)
	}
	return line, nil
}

// reset starts a new measurement window of the gap watcher.
func (t *target) reset() error {
	line, err := t.command("reset")
	if err == nil && line != "ok" {
		err = fmt.Errorf("reset: the target answered %q, want ok", line)
	}
	return err
}

// freeze is the largest gap since the last reset, less the watcher's own sleep: how long
// the target was kept from running, as the target itself saw it.
func (t *target) freeze() (time.Duration, error) {
	line, err := t.command("gap")
	if err != nil {
		return 0, err
	}
	ns, err := strconv.ParseInt(line, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("gap: the target answered %q, want nanoseconds", line)
	}
	return max(time.Duration(ns)-watchPeriod, 0), nil
}

// afterFreeze is the largest gap since the largest one ended, less the watcher's sleep:
// with a freeze in the window, how long the target was kept from running after its thaw.
func (t *target) afterFreeze() (time.Duration, error) {
	line, err := t.command("after")
	if err != nil {
		return 0, err
	}
	ns, err := strconv.ParseInt(line, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("after: the target answered %q, want nanoseconds", line)
	}
	return max(time.Duration(ns)-watchPeriod, 0), nil
}

// checkRunning fails when the target is stopped or still traced: every tool must leave it
// running and detached.
func (t *target) checkRunning() error {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", t.pid))
	if err != nil {
		return fmt.Errorf("the target is gone: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch {
		case k == "State" && (strings.HasPrefix(v, "T") || strings.HasPrefix(v, "t")):
			return fmt.Errorf("the target %d was left stopped (State %s)", t.pid, v)
		case k == "TracerPid" && v != "0":
			return fmt.Errorf("the target %d is still traced by pid %s", t.pid, v)
		}
	}
	return nil
}

// stop closes the target's stdin (it exits on EOF), kills it by pid and reaps it.
func (t *target) stop() {
	t.stdin.Close()
	t.cmd.Process.Kill()
	t.cmd.Wait()
}

// runTool runs a tool as a child process with a timeout and returns its wall time and
// peak RSS in bytes; stdout is collected into out when it is not nil.
func runTool(timeout time.Duration, stdin string, out *bytes.Buffer, name string, args ...string) (wall time.Duration, rss int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if out != nil { // a nil *bytes.Buffer in cmd.Stdout would be a non-nil io.Writer
		cmd.Stdout = out
	}
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	start := time.Now()
	err = cmd.Start()
	if err == nil {
		done := make(chan struct{})
		peak := make(chan int64)
		go func() { peak <- watchHWM(cmd.Process.Pid, done) }()
		err = cmd.Wait()
		close(done)
		rss = <-peak
	}
	wall = time.Since(start)
	if rss <= 0 && cmd.ProcessState != nil {
		// Exited before the first look: rusage, which is at least this test process's own
		// peak (see watchHWM), is all there is.
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = ru.Maxrss * 1024 // KiB on Linux
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w after %v", ctx.Err(), timeout)
		}
		return wall, rss, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, lastBytes(stderr.Bytes(), 2000))
	}
	return wall, rss, nil
}

// watchHWM samples the peak resident memory (VmHWM) of process pid every 5 ms until done
// is closed, and returns the largest seen. The child's rusage ru_maxrss would not do: a
// child started by Go (vfork, then exec) inherits this test process's own peak as its
// maxrss, so any tool smaller than the test process would show the test's size.
func watchHWM(pid int, done <-chan struct{}) int64 {
	var peak int64
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
					peak = max(peak, kb*1024)
				}
			}
		}
		select {
		case <-done:
			return peak
		case <-tick.C:
		}
	}
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
