// Package cli is the gorigin command line: it parses arguments, picks a source, and wires
// source → filters → grouping → renderer. It holds no goroutine, runtime or process
// knowledge of its own.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/onsignal"
	"github.com/gorigin-dev/gorigin/internal/source"
	"github.com/gorigin-dev/gorigin/leaks"
	"github.com/gorigin-dev/gorigin/report"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// Exit statuses.
const (
	exitOK       = 0
	exitInternal = 1
	exitUsage    = 2 // usage or bad input
)

// usageError is bad command-line input: exit status 2. err, when set, is its cause:
// msg says it already, in the words of the command line.
type usageError struct {
	msg string
	err error
}

func (e usageError) Error() string { return e.msg }
func (e usageError) Unwrap() error { return e.err }

// BadInput reports true: a usage error is exit status 2 (dbg.BadInput).
func (usageError) BadInput() bool { return true }

// Run runs the gorigin command with args (without the program name) and returns the exit status.
func Run(args []string, stdout, stderr io.Writer) int {
	onsignal.Install() // a terminating signal lets every target gorigin holds go
	setTrace(stderr)
	if len(args) == 0 {
		printOverview(stderr)
		return exitUsage
	}
	if c := findCommand(args[0]); c != nil && wantsHelp(args[1:]) {
		printCommandHelp(stdout, c)
		return exitOK
	}
	return exitStatus(dispatch(args, stdio3{os.Stdin, stdout, stderr}), stderr)
}

// dispatch parses the flags of the command args[0] and runs it.
func dispatch(args []string, std stdio3) error {
	c := lookupCommand(args[0])
	if c == nil {
		return unknownCommand(args[0])
	}
	f := c.newFlags(std.err)
	pos := args[1:]
	if f != nil {
		var err error
		if pos, err = f.parse(pos); err != nil {
			return err
		}
	}
	return c.run(f, pos, std)
}

// exitStatus prints err and maps it to the exit status: 2 for usage and bad input (an
// error that says so: dbg.BadInput; no such process, not a Go program, no permission, the
// process exited, not a core...), 1 for the rest.
func exitStatus(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var st exitCode
	if errors.As(err, &st) { // a verdict, printed with the output
		return int(st)
	}
	fmt.Fprintf(stderr, "gorigin: %s\n", report.Printable(err.Error()))
	if dbg.BadInput(err) {
		return exitUsage
	}
	return exitInternal
}

// exitCode is an exit status a command chose, with its output (watch's 3): exitStatus
// returns it and prints nothing.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// pids completes a process id: the Go programs running.
func pids(words []string) []string { return goProcesses(words[len(words)-1]) }

// files completes a file name.
func files([]string) []string { return []string{filesDirective} }

var cmdAttach = &command{
	name: "attach", args: "PID [flags]", summary: "snapshot a running Go process (frozen for milliseconds) and group its goroutines by go statement",
	examples: [][2]string{
		{"the groups of process 4242, largest first", "sudo gorigin attach 4242"},
		{"the 5 largest groups with a representative stack each", "sudo gorigin attach 4242 --top 5 --stacks -v"},
		{"a flame graph of the spawn tree for go tool pprof", "sudo gorigin attach 4242 --format pprof -o spawn.pb.gz"},
		{"through GDB instead of gorigin's own ptrace", "sudo gorigin attach 4242 --backend gdb"},
	},
	flags: func(f *flags) {
		f.snapshotFlags()
		f.liveFlags()
		f.leaksFlag()
		f.historyFlag()
	},
	run:      runAttach,
	operands: pids,
}

func runAttach(f *flags, pos []string, std stdio3) error {
	if len(pos) == 0 && dlvAddr(f) != "" {
		pos = []string{"0"} // dlv says which process
	}
	if len(pos) != 1 {
		return usageError{msg: "attach takes one process id: gorigin attach PID"}
	}
	pid, err := strconv.Atoi(pos[0])
	if err != nil || pid < 0 || (pid == 0 && dlvAddr(f) == "") {
		return usageError{msg: fmt.Sprintf("%q is not a process id: gorigin attach PID", pos[0])}
	}
	look := startLook(pid, f)
	var snap *snapshot.Snapshot
	if f.leaks {
		if f.backend != "native" {
			return usageError{msg: "--leaks reads the heap with the native backend only: leave out --backend"}
		}
		var res *leaks.Result
		snap, res, err = attachLeaks(pid, f) // one freeze: states and verdicts of one moment
		if err == nil && byObject(f) {
			source.LeakObjects(snap, res)
		}
	} else if byObject(f) {
		if f.backend != "native" {
			return usageError{msg: "--by object reads what goroutines wait on with the native backend only: leave out --backend"}
		}
		o, done := f.source()
		snap, err = source.AttachObjects(context.Background(), pid, o)
		done()
	} else {
		snap, err = attach(pid, f)
	}
	if err != nil {
		return err
	}
	boundOutputMemory()
	look.remember(snap, std.err)
	phase := capture.Tracer("output")
	defer phase("rendered %s", f.format)
	return render(snap, f, std.out)
}

// attach snapshots a live process as the flags say; the target runs on afterwards
// whatever happens.
func attach(pid int, f *flags) (*snapshot.Snapshot, error) {
	o, done := f.source()
	defer done()
	return source.Attach(context.Background(), pid, o)
}

// render filters, groups and writes a snapshot as the flags ask.
func render(snap *snapshot.Snapshot, f *flags, stdout io.Writer) error {
	key, err := snapshot.ParseKey(f.by)
	if err != nil {
		return usageError{msg: err.Error(), err: err}
	}
	match, err := parseFilters(f.match)
	if err != nil {
		return err
	}
	exclude, err := parseFilters(f.exclude)
	if err != nil {
		return err
	}
	shown := *snap
	shown.Goroutines = snapshot.Select(snap.Goroutines, match, exclude)
	hidden := 0
	if f.format != "json" && !f.system {
		shown.Goroutines, hidden = snapshot.WithoutSystem(shown.Goroutines)
	}
	shown.Warnings = capture.RecountStackWarning(snap.Warnings, shown.Goroutines)
	return write(f, stdout, func(w io.Writer) error {
		return report.Render(w, f.format, snapshot.GroupSelection(&shown, snap.Goroutines, key),
			report.ForTerminal(w, report.Options{Top: f.top, Verbose: f.verbose, SystemHidden: hidden}))
	})
}

func parseFilters(specs []string) ([]snapshot.Filter, error) {
	var out []snapshot.Filter
	for _, s := range specs {
		flt, err := snapshot.ParseFilter(s)
		if err != nil {
			return nil, usageError{msg: err.Error(), err: err}
		}
		out = append(out, flt)
	}
	return out, nil
}

// checkOutPath makes a -o path that cannot be written a usage error before any work: its
// directory must exist and be writable, and it must not itself be a directory.
func checkOutPath(out string) error {
	if out == "" || out == "-" {
		return nil
	}
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		what := "a directory"
		if li, err := os.Lstat(out); err == nil && li.Mode()&os.ModeSymlink != 0 {
			what = "a symlink to a directory"
		}
		return usageError{msg: fmt.Sprintf("-o %s: %s; give a file name", out, what)}
	}
	dir := filepath.Dir(out)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return usageError{msg: fmt.Sprintf("-o %s: %v: create the directory first", out, err), err: err}
	case !fi.IsDir():
		return usageError{msg: fmt.Sprintf("-o %s: %s is not a directory", out, dir)}
	case syscall.Access(dir, 2 /* W_OK */) != nil:
		return usageError{msg: fmt.Sprintf("-o %s: the directory %s is not writable", out, dir)}
	}
	return nil
}
