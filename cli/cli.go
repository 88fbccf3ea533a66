// Package cli is the gorigin command line: it parses arguments, picks a source, and wires
// source → filters → grouping → renderer. It holds no goroutine, runtime or process
// knowledge of its own.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/gdbmi"
	"github.com/gorigin-dev/gorigin/dbg/native"
	"github.com/gorigin-dev/gorigin/dbg/onsignal"
	"github.com/gorigin-dev/gorigin/gstruct"
	"github.com/gorigin-dev/gorigin/report"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// Exit statuses.
const (
	exitOK       = 0
	exitInternal = 1
	exitUsage    = 2 // usage or bad input
)

// usageError is bad command-line input: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

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
	return dispatch(args, stdout, stderr)
}

// dispatch runs the command args[0] and returns the exit status.
func dispatch(args []string, stdout, stderr io.Writer) int {
	var err error
	switch args[0] {
	case "attach":
		err = runAttach(args[1:], stdout, stderr)
	case "core":
		err = runCore(args[1:], stdout, stderr)
	case "leaks":
		err = runLeaks(args[1:], stdout, stderr)
	case "demo":
		err = runDemo(args[1:], stdout, stderr)
	case "dump":
		err = runDump(args[1:], os.Stdin, stdout, stderr)
	case "diff":
		err = runDiff(args[1:], os.Stdin, stdout, stderr)
	case "watch":
		return runWatch(args[1:], stdout, stderr)
	case "gdb":
		err = runGDB(args[1:], stdout, stderr)
	case "dap":
		err = runDAP(args[1:], os.Stdin, stdout, stderr)
	case demoTargetCmd:
		err = runDemoTarget(args[1:], stdout)
	case dlvGuardCmd:
		return runDlvGuard(args[1:], os.Stdin, stderr)
	case "version", "--version":
		fmt.Fprint(stdout, version())
		return exitOK
	case "help", "-h", "--help", "-help":
		err = runHelp(args[1:], stdout)
	case "completion":
		err = runCompletion(args[1:], stdout)
	case completeCmd:
		runComplete(args[1:], stdout)
		return exitOK
	default:
		err = unknownCommand(args[0])
	}
	return exitStatus(err, stderr)
}

// exitStatus prints err and maps it to the exit status: 2 for usage and bad input (no
// such process, not a Go program, no permission, the process exited), 1 for the rest.
func exitStatus(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "gorigin: %s\n", report.Printable(err.Error()))
	var ue usageError
	switch {
	case errors.As(err, &ue),
		errors.Is(err, dbg.ErrNoProcess), errors.Is(err, dbg.ErrPermission),
		errors.Is(err, dbg.ErrNotGo), errors.Is(err, dbg.ErrExited),
		errors.Is(err, gstruct.ErrStripped), errors.Is(err, gstruct.ErrDebugFile), errors.Is(err, gstruct.ErrCorrupt),
		errors.Is(err, report.ErrBinaryToTerminal), errors.Is(err, snapshot.ErrTooLarge):
		return exitUsage
	}
	return exitInternal
}

// flags are the options shared by every command that takes a snapshot.
type flags struct {
	fs        *flag.FlagSet
	format    string
	out       string
	by        string
	top       int
	stacks    bool
	verbose   bool
	system    bool
	freeze    string
	maxFreeze time.Duration
	backend   string
	dlv       string
	match     multi
	exclude   multi
	debugFile string
	stderr    io.Writer // for the progress bar
	// refused are flags this command does not take, with why: given, they are a usage
	// error that says so rather than "unknown flag".
	refused map[string]string
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func newFlags(stderr io.Writer) *flags {
	f := &flags{fs: flag.NewFlagSet("gorigin", flag.ContinueOnError), stderr: stderr}
	f.fs.SetOutput(io.Discard) // exitStatus prints the error, once
	f.fs.Usage = onHelp(stderr, f.fs)
	f.fs.StringVar(&f.format, "format", "text", "output format: "+strings.Join(report.Formats(), ", "))
	f.fs.StringVar(&f.out, "o", "", "write the output to this `file` instead of stdout")
	f.fs.StringVar(&f.by, "by", "origin", "group by `key`: origin, start, location, wait, label:KEY or parent")
	f.fs.IntVar(&f.top, "top", 0, "show only the `N` largest groups (0: all)")
	f.fs.BoolVar(&f.stacks, "stacks", false, "copy and unwind every goroutine's stack (needed by --by location and -v stacks)")
	f.fs.BoolVar(&f.verbose, "v", false, "print each group's state breakdown and a representative stack")
	f.fs.BoolVar(&f.system, "system", false, "include the runtime's system goroutines (GC workers, ...)")
	f.fs.StringVar(&f.freeze, "freeze", capture.FreezeAlways, "always: stop the target while copying; never: do not stop it (racy reads checked twice)")
	f.fs.DurationVar(&f.maxFreeze, "max-freeze", 2*time.Second, "release the target after this long frozen, and report a partial result")
	f.fs.StringVar(&f.backend, "backend", "native", "debugger backend: native, gdb (GDB over its machine interface), delve (Delve embedded) or dlv=HOST:PORT (a running headless dlv)")
	f.fs.StringVar(&f.dlv, "dlv", "", "read the process through the headless dlv listening at `HOST:PORT` (--backend dlv=HOST:PORT); the PID may be left out")
	f.fs.Var(&f.match, "match", "keep goroutines matching `[field:]REGEX` (fields: origin, start, location, wait, label:KEY=); repeatable, all must match")
	f.fs.StringVar(&f.debugFile, "debug-file", "", "the executable's separate debug `file` (DWARF and symbols, from objcopy --only-keep-debug), matched by build ID (default: BINARY.debug, .debug/BINARY.debug, the .gnu_debuglink, /usr/lib/debug/.build-id/)")
	f.fs.Var(&f.exclude, "exclude", "drop goroutines matching `[field:]REGEX`; repeatable")
	return f
}

// refuse takes the named flags out of the command's flag set (so help does not list
// them) and makes giving one a usage error that says why.
func (f *flags) refuse(why string, names ...string) {
	fs := flag.NewFlagSet(f.fs.Name(), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = onHelp(f.stderr, fs)
	f.fs.VisitAll(func(fl *flag.Flag) {
		if !slices.Contains(names, fl.Name) {
			fs.Var(fl.Value, fl.Name, fl.Usage)
		}
	})
	f.fs = fs
	if f.refused == nil {
		f.refused = map[string]string{}
	}
	for _, n := range names {
		f.refused[n] = why
	}
}

// progress is the progress bar of long work: on stderr when it is a terminal, else silent.
func (f *flags) progress() *report.Progress {
	if f.stderr == nil {
		return report.NewProgress(os.Stderr)
	}
	return report.NewProgress(f.stderr)
}

// parse parses flags and positional arguments in any order ("attach 42 --format json").
func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok && f.refused[name] != "" {
				return nil, usageError{fmt.Sprintf("%s: %s", dashes(name), f.refused[name])}
			}
			return nil, flagError(f.fs, err)
		}
		args = f.fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if f.freeze != capture.FreezeAlways && f.freeze != capture.FreezeNever {
		return nil, usageError{fmt.Sprintf("--freeze %q: use always or never", f.freeze)}
	}
	if err := checkBackend(f); err != nil {
		return nil, err
	}
	if f.top < 0 {
		return nil, usageError{"--top must be 0 (all) or more"}
	}
	if f.maxFreeze <= 0 {
		return nil, usageError{"--max-freeze must be positive"}
	}
	// Check everything that rendering needs now, not after the target was stopped.
	if err := checkOutPath(f.out); err != nil {
		return nil, err
	}
	if !slices.Contains(report.Formats(), f.format) {
		return nil, valueError("format", f.format, report.Formats())
	}
	key, err := snapshot.ParseKey(f.by)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	if key.Kind == "location" && !f.stacks {
		return nil, usageError{"--by location groups by the top user frame: add --stacks"}
	}
	for _, specs := range [][]string{f.match, f.exclude} {
		if _, err := parseFilters(specs); err != nil {
			return nil, err
		}
	}
	return pos, nil
}

func runAttach(args []string, stdout, stderr io.Writer) error {
	f := newFlags(stderr)
	withLeakVerdicts := f.fs.Bool("leaks", false, leaksUsage)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) == 0 && dlvAddr(f) != "" {
		pos = []string{"0"} // dlv says which process
	}
	if len(pos) != 1 {
		return usageError{"attach takes one process id: gorigin attach PID"}
	}
	pid, err := strconv.Atoi(pos[0])
	if err != nil || pid < 0 || (pid == 0 && dlvAddr(f) == "") {
		return usageError{fmt.Sprintf("%q is not a process id: gorigin attach PID", pos[0])}
	}
	var snap *snapshot.Snapshot
	if *withLeakVerdicts {
		if f.backend != "native" {
			return usageError{"--leaks reads the heap with the native backend only: leave out --backend"}
		}
		snap, _, err = attachLeaks(pid, f) // one freeze: states and verdicts of one moment
	} else {
		snap, err = attach(pid, f)
	}
	if err != nil {
		return err
	}
	phase := capture.Tracer("output")
	defer phase("rendered %s", f.format)
	return render(snap, f, stdout)
}

// attach snapshots a live process with the chosen backend; the target runs on afterwards
// whatever happens.
func attach(pid int, f *flags) (*snapshot.Snapshot, error) {
	image := processImage(pid) // to tell an exec from other read errors
	// A pid that never existed is "no such process", not a process that exited meanwhile.
	_, statErr := os.Stat(fmt.Sprintf("/proc/%d", pid))
	existed := !errors.Is(statErr, fs.ErrNotExist)
	if (f.backend == "gdb" || f.backend == "delve") && dlvAddr(f) == "" {
		// Zombies, kernel threads, no permission: the same message whatever the backend.
		if err := native.Check(pid); err != nil {
			return nil, err
		}
	}
	if f.backend == "delve" || dlvAddr(f) != "" {
		return attachDelve(pid, f)
	}
	var proc dbg.Target
	var err error
	if f.backend == "gdb" {
		proc, err = gdbmi.Attach(pid, gdbmi.ProcessOptions{MaxFreeze: f.maxFreeze, Timeout: gdbTimeout()})
	} else {
		proc, err = native.Attach(pid, native.Options{MaxFreeze: f.maxFreeze})
	}
	if why := vanished(pid, image); err != nil && existed && why != "" && !errors.Is(err, dbg.ErrExited) {
		return nil, fmt.Errorf("pid %d %s while gorigin attached (%v): %w", pid, why, err, dbg.ErrExited)
	}
	if err != nil {
		return nil, err
	}
	defer proc.Close()
	progress := f.progress()
	defer progress.Clear()
	snap, err := capture.Take(proc, capture.Options{Freeze: f.freeze, Stacks: f.stacks, Backend: f.backend, Progress: progress.Update, DebugFile: f.debugFile, MaxFreeze: f.maxFreeze, HoldFreeze: holdFreeze()})
	if err != nil {
		if why := vanished(pid, image); why != "" && !errors.Is(err, dbg.ErrExited) {
			return nil, fmt.Errorf("pid %d %s while gorigin was reading it (%v): run gorigin again: %w", pid, why, err, dbg.ErrExited)
		}
		return nil, fmt.Errorf("pid %d: %w", pid, err)
	}
	if err := proc.Close(); err != nil {
		// The copy was complete; a target that exited or exec'd since leaves nothing to
		// let go (GDB's detach then fails: "The program is not being run").
		why := vanished(pid, image)
		if why == "" {
			return nil, err
		}
		snap.Warnings = append(snap.Warnings, fmt.Sprintf("pid %d %s right after this snapshot was taken", pid, why))
	}
	return snap, nil
}

// render filters, groups and writes a snapshot as the flags ask.
func render(snap *snapshot.Snapshot, f *flags, stdout io.Writer) error {
	key, err := snapshot.ParseKey(f.by)
	if err != nil {
		return usageError{err.Error()}
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
	if f.format != "json" && !f.system {
		hidden := 0
		for i := range shown.Goroutines {
			if shown.Goroutines[i].System {
				hidden++
			}
		}
		if hidden > 0 { // one exact copy: 1,000,000 goroutines are 136 MB
			user := make([]snapshot.Goroutine, 0, len(shown.Goroutines)-hidden)
			for i := range shown.Goroutines {
				if !shown.Goroutines[i].System {
					user = append(user, shown.Goroutines[i])
				}
			}
			shown.Goroutines = user
		}
		return write(f, stdout, func(w io.Writer) error {
			return report.Render(w, f.format, &shown, snapshot.GroupBy(shown.Goroutines, key),
				report.ForTerminal(w, report.TextOptions{Top: f.top, Verbose: f.verbose, By: key, SystemHidden: hidden}))
		})
	}
	return write(f, stdout, func(w io.Writer) error {
		return report.Render(w, f.format, &shown, snapshot.GroupBy(shown.Goroutines, key),
			report.ForTerminal(w, report.TextOptions{Top: f.top, Verbose: f.verbose, By: key}))
	})
}

func parseFilters(specs []string) ([]snapshot.Filter, error) {
	var out []snapshot.Filter
	for _, s := range specs {
		flt, err := snapshot.ParseFilter(s)
		if err != nil {
			return nil, usageError{err.Error()}
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
		return usageError{fmt.Sprintf("-o %s: %s; give a file name", out, what)}
	}
	dir := filepath.Dir(out)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return usageError{fmt.Sprintf("-o %s: %v: create the directory first", out, err)}
	case !fi.IsDir():
		return usageError{fmt.Sprintf("-o %s: %s is not a directory", out, dir)}
	case syscall.Access(dir, 2 /* W_OK */) != nil:
		return usageError{fmt.Sprintf("-o %s: the directory %s is not writable", out, dir)}
	}
	return nil
}
