package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/native"
	"github.com/gorigin-dev/gorigin/leaks"
	"github.com/gorigin-dev/gorigin/report"
	"github.com/gorigin-dev/gorigin/snapshot"
)

const leaksUsage = "prove goroutine leaks in the same freeze: copy the heap's pointer-holding memory (it costs gorigin about that much memory), mark it after the thaw, and classify each blocked goroutine leaked, live or unknown"

// leakFreeze is how long the leak analysis may keep a live target frozen when
// --max-freeze is not given: the copy takes milliseconds, but marking while frozen (when
// the copy does not fit in gorigin's memory) reads the whole reachable heap.
const leakFreeze = 60 * time.Second

var cmdLeaks = &command{
	name: "leaks", args: "PID|CORE [--exe BINARY] [flags]", summary: "prove which blocked goroutines leaked: mark the heap from the roots and give each a verdict",
	examples: [][2]string{
		{"the leaked goroutines of process 4242, grouped by go statement", "sudo gorigin leaks 4242"},
		{"every goroutine with its verdict (leaked, live or unknown)", "sudo gorigin leaks 4242 --all"},
		{"the same from a core dump", "gorigin leaks core.4242 --exe ./api-server"},
	},
	flags: func(f *flags) {
		f.maxFreeze = leakFreeze
		f.snapshotFlags()
		f.liveFlags()
		f.exeFlag("for a core: the program that dumped it")
		f.fs.BoolVar(&f.all, "all", false, "show every goroutine with its verdict, not only the leaked ones")
		f.group(filterFlags, "all")
		mf := f.fs.Lookup("max-freeze")
		mf.DefValue = "60s" // leakFreeze
		mf.Usage = "release the target after this long frozen, and call nothing leaked. leaks freezes the target once, to copy the heap spans that can hold pointers, the stacks and the span tables (gorigin's memory grows by about that much: at most the target's heap); it marks on the copy after the thaw. When the copy does not fit in the memory gorigin may use (MemAvailable, its cgroup's limit, RLIMIT_AS) it marks while frozen instead (about 1 s per 60 MB of such heap), with a warning, if that fits in this limit, and otherwise exits with status 2"
	},
	run: runLeaks,
}

// runLeaks is "gorigin leaks PID|CORE [--exe BINARY]": a snapshot with every goroutine's
// leak verdict; the text format shows the leaked goroutines grouped by origin, with what
// each group waits on and why it is unreachable (--all: every goroutine).
func runLeaks(f *flags, pos []string, std stdio3) error {
	exe, all, stdout := f.exe, f.all, std.out
	if len(pos) != 1 {
		return usageError{msg: "leaks takes a process id or a core file: gorigin leaks PID|CORE"}
	}
	if f.backend != "native" {
		return usageError{msg: "leaks reads the heap with the native backend only: leave out --backend"}
	}
	var snap *snapshot.Snapshot
	var res *leaks.Result
	var err error
	if pid, perr := strconv.Atoi(pos[0]); perr == nil {
		if pid <= 0 {
			return usageError{msg: fmt.Sprintf("%q is not a process id", pos[0])}
		}
		snap, res, err = attachLeaks(pid, f)
	} else {
		if snap, err = openCore(pos[0], exe, f); err != nil {
			return err
		}
		res, err = analyzeCore(pos[0], exe, f.debugFile)
	}
	if err != nil {
		return err
	}
	if snap.Source.Kind != "live" {
		applyLeaks(snap, res) // attachLeaks applied a live target's
	}
	if f.format != "text" {
		return render(snap, f, stdout)
	}
	fmt.Fprintln(stdout, leakSummary(res, snap.Source.Kind == "live"))
	for _, d := range snap.Leaks.ByDesign {
		fmt.Fprintf(stdout, "goroutine %d: %s, not a leak to fix\n", d.ID, d.Why)
	}
	shown := *snap
	if !all {
		shown.Goroutines = nil
		for _, g := range snap.Goroutines {
			if g.Leak == leaks.Leaked {
				shown.Goroutines = append(shown.Goroutines, g)
			}
		}
		if len(shown.Goroutines) == 0 {
			fmt.Fprintln(stdout, "no goroutine is proven leaked")
			return nil
		}
	}
	if err := render(&shown, f, stdout); err != nil {
		return err
	}
	return writeLeakReasons(stdout, &shown, res, f)
}

// withLeaks adds leak verdicts to a snapshot of a core: the --leaks flag of core (a live
// target's come with its snapshot, from attachLeaks).
func withLeaks(snap *snapshot.Snapshot, corePath, exe string, f *flags) error {
	if f.backend != "native" {
		return usageError{msg: "--leaks reads the heap with the native backend only: leave out --backend"}
	}
	res, err := analyzeCore(corePath, exe, f.debugFile)
	if err != nil {
		return err
	}
	applyLeaks(snap, res)
	return nil
}

// attachLeaks snapshots a live process and proves its leaks in one freeze: the
// goroutines' states and the verdicts come from the same moment. The freeze copies what
// the marking reads; the marking runs on the copy after the thaw (or, when the copy does
// not fit in gorigin's memory, while frozen: a warning says so).
func attachLeaks(pid int, f *flags) (*snapshot.Snapshot, *leaks.Result, error) {
	maxFreeze := f.maxFreeze
	if !f.set("max-freeze") {
		maxFreeze = leakFreeze
	}
	image := processImage(pid)
	proc, err := native.Attach(pid, native.Options{MaxFreeze: maxFreeze})
	if why := vanished(pid, image); err != nil && why != "" && !errors.Is(err, dbg.ErrExited) {
		return nil, nil, dbg.Errorf(dbg.ErrExited, "pid %d %s while gorigin attached (%v)", pid, why, err)
	}
	if err != nil {
		return nil, nil, err
	}
	defer proc.Close()
	progress := f.progress()
	defer progress.Clear()
	phase := capture.Tracer("leaks")
	s, err := leaks.Begin(proc, leaks.Options{Progress: progress.Update, MaxFreeze: maxFreeze, DebugFile: f.debugFile})
	if err != nil {
		return nil, nil, leakError(pid, err)
	}
	defer s.Close()
	phase("planned (%s)", s.Mode())
	snap, err := capture.Take(s, capture.Options{Freeze: capture.FreezeAlways, Stacks: f.stacks, Backend: "native", Progress: progress.Update, DebugFile: f.debugFile, HoldFreeze: holdFreeze()})
	if err != nil {
		if why := vanished(pid, image); why != "" && !errors.Is(err, dbg.ErrExited) {
			return nil, nil, dbg.Errorf(dbg.ErrExited, "pid %d %s while gorigin was reading it (%v): run gorigin again", pid, why, err)
		}
		return nil, nil, leakError(pid, err)
	}
	res, err := s.Finish()
	if err != nil {
		return nil, nil, leakError(pid, err)
	}
	phase("%s", leakSummary(res, true))
	if proc.Expired() {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the target stayed frozen past --max-freeze %v and was released before the copy was complete: no goroutine is called leaked", maxFreeze))
		for id, v := range res.Verdicts {
			if v.Leak == leaks.Leaked {
				v.Leak, v.Why = leaks.Unknown, "the copy was cut short by --max-freeze"
				res.Verdicts[id] = v
			}
		}
	}
	applyLeaks(snap, res)
	return snap, res, proc.Close()
}

// leakError says which process the analysis failed on.
func leakError(pid int, err error) error {
	return fmt.Errorf("pid %d: leak analysis: %w", pid, err)
}

func analyzeCore(path, exe, debugFile string) (*leaks.Result, error) {
	c, err := openNativeCore(path, exe)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	res, err := analyze(c, debugFile)
	if err != nil {
		return nil, fmt.Errorf("core %s: leak analysis: %w", path, err)
	}
	return res, nil
}

func analyze(t dbg.Target, debugFile string) (*leaks.Result, error) {
	progress := report.NewProgress(os.Stderr) // a bar on a terminal only
	defer progress.Clear()
	phase := capture.Tracer("leaks")
	res, err := leaks.Analyze(t, leaks.Options{Progress: progress.Update, DebugFile: debugFile})
	if err != nil {
		return nil, err
	}
	phase("%s", leakSummary(res, false))
	return res, nil
}

// applyLeaks sets each goroutine's Leak from the analysis, by id; a goroutine the analysis
// did not see (none, when both read the same freeze or core) is unknown.
func applyLeaks(snap *snapshot.Snapshot, res *leaks.Result) {
	snap.Leaks = leakReport(snap, res, snap.Source.Kind == "live")
	for i := range snap.Goroutines {
		g := &snap.Goroutines[i]
		if v, ok := res.Verdicts[g.ID]; ok {
			g.Leak = v.Leak
		} else {
			g.Leak = leaks.Unknown
		}
	}
	snap.Warnings = append(snap.Warnings, res.Warnings...)
}

func leakSummary(res *leaks.Result, live bool) string {
	s := res.Stats
	out := fmt.Sprintf("leaks: %d leaked, %d live, %d unknown of %d goroutines; heap %d MB in %d objects (%d spans), %d marked, %d MB scanned in %d rounds",
		s.Leaked, s.LiveCount, s.NotSure, s.Goroutines, s.HeapBytes>>20, s.Objects, s.Spans, s.Marked, s.ScannedBytes>>20, s.Rounds)
	if heap := s.PreciseBytes + s.ConservativeBytes; heap > 0 {
		out += fmt.Sprintf(" (heap objects: %d KB with the runtime's pointer maps, %d KB conservatively)", s.PreciseBytes>>10, s.ConservativeBytes>>10)
	}
	switch {
	case !live:
	case s.Mode == leaks.ModeCopy:
		out += fmt.Sprintf("; frozen %v to copy %d MB, marked after the thaw", s.Freeze.Round(time.Millisecond), s.Copied>>20)
	default:
		out += fmt.Sprintf("; frozen %v, marked while frozen", s.Freeze.Round(time.Millisecond))
	}
	return out
}

// maxWhyObjects bounds the wait objects listed for one group of the text "why" section.
const maxWhyObjects = 8

// writeLeakReasons prints, for each group of the table, what its goroutines wait on and
// why the analysis calls them leaked.
func writeLeakReasons(w io.Writer, shown *snapshot.Snapshot, res *leaks.Result, f *flags) error {
	key, err := snapshot.ParseKey(f.by)
	if err != nil {
		return usageError{msg: err.Error(), err: err}
	}
	groups := snapshot.GroupBy(shown.Goroutines, key)
	if f.top > 0 && len(groups) > f.top {
		groups = groups[:f.top]
	}
	var b strings.Builder
	b.WriteString("\nwhy:\n")
	for _, g := range groups {
		fmt.Fprintf(&b, "  %s (%d)\n", report.Printable(g.Key), g.Count)
		objs := waitObjects(shown, res, g.Members)
		for i, o := range objs {
			if i == maxWhyObjects {
				fmt.Fprintf(&b, "    and %d more objects\n", len(objs)-i)
				break
			}
			fmt.Fprintf(&b, "    waits on %s\n", report.Printable(waitObjectText(o)))
		}
		for _, r := range leakWhys(shown, res, g.Members) {
			fmt.Fprintf(&b, "    %s\n", report.Printable(r))
		}
	}
	_, err = io.WriteString(w, b.String())
	return err
}
