package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/internal/source"
	"github.com/gorigin-dev/gorigin/internal/terminal"
	"github.com/gorigin-dev/gorigin/report"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// flags are a command's options and the flag set that fills them. Each command defines
// its flags (command.flags): help, completion and parsing all read that one flag set.
type flags struct {
	fs *flag.FlagSet
	// groups put a flag under a heading of help; a flag in none is under "Other flags".
	groups map[string]flagGroup
	// files are the flags whose value completion offers file names for.
	files []string
	// refused are flags this command does not take, with why: given, they are a usage
	// error that says so rather than "unknown flag".
	refused map[string]string
	stderr  io.Writer // for the progress bar

	// The snapshot flags (snapshotFlags, liveFlags).
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

	// One command's own flags.
	exe             string        // core, leaks
	leaks           bool          // attach, core: --leaks
	noHistory       bool          // attach: --no-history
	all             bool          // leaks
	minAge          time.Duration // diff
	every           time.Duration // watch
	samples         int           // watch
	timeout         time.Duration // dump
	followRedirects bool          // dump
	listen          string        // dap
	allowRemote     bool          // dap
	maxConns        int           // dap
	idle            time.Duration // dap
	attachWait      time.Duration // dap
}

// flagGroup is a heading of a command's help.
type flagGroup int

const (
	otherFlags flagGroup = iota
	sourceFlags
	filterFlags
	outputFlags
)

var flagGroupTitles = [...]string{otherFlags: "Other flags", sourceFlags: "Source flags", filterFlags: "Filter flags", outputFlags: "Output flags"}

func (g flagGroup) String() string { return flagGroupTitles[g] }

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// newFlags is an empty flag set with the snapshot options' defaults: a command adds its
// flags to it (the defaults hold for the options a command has no flag for).
func newFlags(stderr io.Writer) *flags {
	f := &flags{
		fs:     flag.NewFlagSet("gorigin", flag.ContinueOnError),
		groups: map[string]flagGroup{},
		stderr: stderr,
		format: "text", by: "origin", freeze: string(capture.FreezeAlways), maxFreeze: 2 * time.Second, backend: "native",
	}
	f.fs.SetOutput(io.Discard) // exitStatus prints the error, once
	f.fs.Usage = func() {}
	return f
}

// group puts the named flags under g's heading in help.
func (f *flags) group(g flagGroup, names ...string) {
	for _, n := range names {
		f.groups[n] = g
	}
}

// snapshotFlags defines the flags of every command that renders a snapshot: what it
// copies, which goroutines it keeps and how it writes them.
func (f *flags) snapshotFlags() {
	f.choiceVar(&f.format, "format", report.Formats(), nil, "output format: "+strings.Join(report.Formats(), ", "))
	f.fs.StringVar(&f.out, "o", f.out, "write the output to this `file` instead of stdout")
	f.choiceVar(&f.by, "by", groupKeys, checkKey, "group by `key`: origin, start, location, wait, label:KEY, parent or object (the channel, mutex, WaitGroup or Cond they wait on: live processes and cores)")
	f.fs.Var((*countFlag)(&f.top), "top", "show only the `N` largest groups (0: all)")
	f.fs.BoolVar(&f.stacks, "stacks", f.stacks, "copy and unwind every goroutine's stack (needed by --by location; implied by -v and --match/--exclude location:)")
	f.fs.BoolVar(&f.verbose, "v", f.verbose, "print each group's state breakdown and a representative stack (implies --stacks)")
	f.fs.BoolVar(&f.system, "system", f.system, "include the runtime's system goroutines (GC workers, ...)")
	f.fs.Var(&f.match, "match", "keep goroutines matching `[field:]REGEX` (fields: origin, start, location, wait, label:KEY=); repeatable, all must match")
	f.fs.Var(&f.exclude, "exclude", "drop goroutines matching `[field:]REGEX`; repeatable")
	f.group(sourceFlags, "stacks")
	f.group(filterFlags, "match", "exclude", "system", "top")
	f.group(outputFlags, "format", "o", "by", "v")
	f.files = append(f.files, "o")
}

// liveFlags defines the flags of the commands that may read a live process: how it is
// stopped and through which debugger.
func (f *flags) liveFlags() {
	f.choiceVar(&f.freeze, "freeze", []string{string(capture.FreezeAlways), string(capture.FreezeNever)}, nil, "always: stop the target while copying; never: do not stop it (racy reads checked twice)")
	f.fs.DurationVar(&f.maxFreeze, "max-freeze", f.maxFreeze, "release the target after this long frozen, and report a partial result (at least 1ms; threads that do not stop in time: read running, as --freeze never)")
	f.choiceVar(&f.backend, "backend", backendNames, checkBackendName, "debugger backend: native, gdb (GDB over its machine interface), delve (Delve embedded) or dlv=HOST:PORT (a running headless dlv)")
	f.fs.StringVar(&f.dlv, "dlv", f.dlv, "read the process through the headless dlv listening at `HOST:PORT` (--backend dlv=HOST:PORT); the PID may be left out")
	f.fs.StringVar(&f.debugFile, "debug-file", f.debugFile, "the executable's separate debug `file` (DWARF and symbols, from objcopy --only-keep-debug), matched by build ID (default: BINARY.debug, .debug/BINARY.debug, the .gnu_debuglink, /usr/lib/debug/.build-id/)")
	f.group(sourceFlags, "freeze", "max-freeze", "backend", "dlv", "debug-file")
}

// exeFlag defines --exe, the executable of a core.
func (f *flags) exeFlag(usage string) {
	f.fs.StringVar(&f.exe, "exe", f.exe, usage)
	f.group(sourceFlags, "exe")
	f.files = append(f.files, "exe")
}

// leaksFlag defines --leaks, the leak verdicts of attach and core.
func (f *flags) leaksFlag() {
	f.fs.BoolVar(&f.leaks, "leaks", f.leaks, leaksUsage)
	f.group(sourceFlags, "leaks")
}

// refuse makes giving one of the named flags, which this command does not define, a usage
// error that says why.
func (f *flags) refuse(why string, names ...string) {
	if f.refused == nil {
		f.refused = map[string]string{}
	}
	for _, n := range names {
		f.refused[n] = why
	}
}

// set says whether the flag name was given on the command line.
func (f *flags) set(name string) bool {
	given := false
	f.fs.Visit(func(fl *flag.Flag) { given = given || fl.Name == name })
	return given
}

// progress is the progress bar of long work: on stderr when it is a terminal, else silent.
func (f *flags) progress() *terminal.Progress {
	if f.stderr == nil {
		return terminal.NewProgress(os.Stderr)
	}
	return terminal.NewProgress(f.stderr)
}

// source is how the flags say to read a process or a core, with a progress bar; done
// clears the bar.
func (f *flags) source() (o source.Options, done func()) {
	progress := f.progress()
	o = sourceOptions()
	o.Backend, o.Freeze, o.MaxFreeze, o.Stacks, o.DebugFile = f.backend, snapshot.FreezeMode(f.freeze), f.maxFreeze, f.stacks, f.debugFile
	o.Progress = progress.Update
	return o, progress.Clear
}

// parseArgs parses flags and positional arguments in any order ("attach 42 --format json").
func (f *flags) parseArgs(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok && f.refused[name] != "" {
				return nil, usageError{msg: fmt.Sprintf("%s: %s", dashes(name), f.refused[name])}
			}
			return nil, flagError(f.fs, err)
		}
		args = f.fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// minMaxFreeze is the shortest --max-freeze gorigin accepts: stopping the threads of an
// idle process alone takes tens of microseconds to a millisecond, so a shorter limit
// could only ever give up. At 1 ms a freeze that does not finish in time still gives a
// result: read running, or partial, and said so.
const minMaxFreeze = time.Millisecond

// parse parses the flags and positional arguments of a command that renders a snapshot
// and checks everything rendering needs now, not after the target was stopped.
func (f *flags) parse(args []string) ([]string, error) {
	pos, err := f.parseArgs(args)
	if err != nil {
		return nil, err
	}
	if err := checkBackend(f); err != nil {
		return nil, err
	}
	if f.top < 0 {
		return nil, usageError{msg: "--top must be 0 (all) or more"}
	}
	if f.maxFreeze <= 0 {
		return nil, usageError{msg: "--max-freeze must be positive"}
	}
	if f.maxFreeze < minMaxFreeze {
		return nil, usageError{msg: fmt.Sprintf("--max-freeze %v is below the %v that stopping a process's threads can honour: give %v or more, or --freeze never to read without stopping", f.maxFreeze, minMaxFreeze, minMaxFreeze)}
	}
	if err := checkOutPath(f.out); err != nil {
		return nil, err
	}
	// What shows or looks at stacks copies them: -v prints one per group, and a
	// location: filter would match nothing without them.
	f.stacks = f.stacks || f.verbose
	for _, specs := range [][]string{f.match, f.exclude} {
		flts, err := parseFilters(specs)
		if err != nil {
			return nil, err
		}
		for _, flt := range flts {
			f.stacks = f.stacks || flt.NeedsStacks()
		}
	}
	if key, _ := snapshot.ParseKey(f.by); key.Kind == snapshot.ByLocation {
		f.stacks = true // the location is a frame of the stack: read the stacks
	}
	return pos, nil
}

// choice is an enumerated flag (--format, --by, --backend, --freeze): one list of values
// that it accepts, that help shows, that completion offers and that "did you mean" picks
// from.
type choice struct {
	name    string
	value   *string
	choices []string
	// check, if set, accepts values beyond choices (label:KEY, dlv=HOST:PORT) and says
	// what is wrong with the others.
	check func(string) error
	err   error // why the last Set failed: the flag package's error does not wrap it
}

func (c *choice) String() string {
	if c.value == nil {
		return ""
	}
	return *c.value
}

func (c *choice) Set(v string) error {
	c.err = nil
	switch {
	case c.check != nil:
		c.err = c.check(v)
	case !slices.Contains(c.choices, v):
		c.err = valueError(c.name, v, c.choices)
	}
	if c.err != nil {
		return c.err
	}
	*c.value = v
	return nil
}

// choiceVar defines an enumerated flag: its value is one of choices or, with check, one
// check accepts.
func (f *flags) choiceVar(p *string, name string, choices []string, check func(string) error, usage string) {
	f.fs.Var(&choice{name: name, value: p, choices: choices, check: check}, name, usage)
}

// groupKeys are the values of --by completion offers; label: takes a label's key after it.
var groupKeys = []string{"origin", "start", "location", "wait", "parent", "object", "label:"}

func checkKey(v string) error {
	if _, err := snapshot.ParseKey(v); err != nil {
		return usageError{msg: err.Error(), err: err}
	}
	return nil
}

// backendNames are the values of --backend completion offers; dlv= takes HOST:PORT.
var backendNames = []string{"native", "gdb", "delve", "dlv="}

func checkBackendName(v string) error {
	switch {
	case v == "native", v == "gdb", v == "delve":
	case strings.HasPrefix(v, "dlv="):
		if !strings.Contains(strings.TrimPrefix(v, "dlv="), ":") {
			return usageError{msg: fmt.Sprintf("--backend %s: give the headless dlv's address, dlv=HOST:PORT", v)}
		}
	default:
		return usageError{msg: fmt.Sprintf("--backend %q: use native, gdb, delve or dlv=HOST:PORT", v)}
	}
	return nil
}

// countFlag is an int flag whose bad value says what it wants instead of the flag
// package's "parse error".
type countFlag int

func (c *countFlag) String() string {
	if c == nil {
		return "0"
	}
	return strconv.Itoa(int(*c))
}

func (c *countFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return errors.New("want a whole number of groups, 0 or more (--top 10)")
	}
	*c = countFlag(n)
	return nil
}
