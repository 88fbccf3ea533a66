package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/gorigin-dev/gorigin/internal/demo"
)

var cmdDemo = &command{
	name: "demo", args: "[flags]", summary: "start a bundled leaky demo program, attach to it and show the result",
	examples: [][2]string{
		{"the table", "sudo gorigin demo"},
		{"the HTML report of the demo", "sudo gorigin demo --stacks --format html -o demo.html"},
	},
	flags: func(f *flags) {
		f.snapshotFlags()
		f.liveFlags()
	},
	run: runDemo,
}

// cmdDemoTarget is the demo program itself: `gorigin demo` starts this binary with it, so
// the demo needs no Go toolchain and no second binary.
var cmdDemoTarget = &command{name: "__demo-target", hidden: true, run: runDemoTarget}

// runDemo starts the demo target, snapshots it like `gorigin attach`, and ends it.
func runDemo(f *flags, pos []string, std stdio3) error {
	stdout, stderr := std.out, std.err
	if len(pos) != 0 {
		return usageError{msg: "demo takes no arguments, only attach's flags"}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the gorigin executable to start the demo target: %w", err)
	}
	cmd := exec.Command(self, cmdDemoTarget.name)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe() // the target exits when this closes, even if we die
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the demo target: %w", err)
	}
	defer func() {
		stdin.Close()
		cmd.Process.Kill() // we started it: end it by its pid
		cmd.Wait()
	}()
	line, err := readLine(out, 10*time.Second)
	if err != nil || line != "ready" {
		return fmt.Errorf("the demo target did not start (%q, %v)", line, err)
	}
	fmt.Fprintf(stderr, "demo target started as pid %d; running: gorigin attach %d\n", cmd.Process.Pid, cmd.Process.Pid)
	snap, err := attach(cmd.Process.Pid, f)
	if err != nil {
		return err
	}
	return render(snap, f, stdout)
}

func readLine(r io.Reader, timeout time.Duration) (string, error) {
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := bufio.NewReader(r).ReadString('\n')
		ch <- result{strings.TrimSpace(s), err}
	}()
	select {
	case res := <-ch:
		return res.s, res.err
	case <-time.After(timeout):
		return "", fmt.Errorf("no answer in %v", timeout)
	}
}

// runDemoTarget is the demo program: it says "ready" once its goroutines are parked and
// exits when its stdin closes.
func runDemoTarget(_ *flags, _ []string, std stdio3) error {
	stdout := std.out
	stop := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	demo.Run(func() { fmt.Fprintln(stdout, "ready") }, stop)
	return nil
}
