package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/gorigin-dev/gorigin/internal/source"
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
		o, done := f.source()
		snap, err = source.Core(context.Background(), pos[0], exe, o)
		done()
		if err != nil {
			return err
		}
		res, err = coreLeaks(pos[0], exe, f)
	}
	if err != nil {
		return err
	}
	if snap.Source.Kind != snapshot.KindLive {
		source.ApplyLeaks(snap, res) // AttachLeaks applied a live target's
	}
	if byObject(f) {
		source.LeakObjects(snap, res)
	}
	if f.format != "text" {
		return render(snap, f, stdout)
	}
	fmt.Fprintln(stdout, source.LeakSummary(res, snap.Source.Kind == snapshot.KindLive))
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
	res, err := coreLeaks(corePath, exe, f)
	if err != nil {
		return err
	}
	source.ApplyLeaks(snap, res)
	return nil
}

// attachLeaks snapshots a live process and proves its leaks in one freeze
// (source.AttachLeaks), frozen for at most leakFreeze unless --max-freeze says.
func attachLeaks(pid int, f *flags) (*snapshot.Snapshot, *leaks.Result, error) {
	o, done := f.source()
	defer done()
	if !f.set("max-freeze") {
		o.MaxFreeze = leakFreeze
	}
	return source.AttachLeaks(context.Background(), pid, o)
}

// coreLeaks proves the leaks of a core, with a progress bar.
func coreLeaks(path, exe string, f *flags) (*leaks.Result, error) {
	o, done := f.source()
	defer done()
	return source.CoreLeaks(context.Background(), path, exe, o)
}

// writeLeakReasons prints, for each group of the table, what its goroutines wait on and
// why the analysis calls them leaked (report.LeakReasons).
func writeLeakReasons(w io.Writer, shown *snapshot.Snapshot, res *leaks.Result, f *flags) error {
	key, err := snapshot.ParseKey(f.by)
	if err != nil {
		return usageError{msg: err.Error(), err: err}
	}
	return report.LeakReasons(w, snapshot.GroupSnapshot(shown, key), f.top, func(members []int) ([]snapshot.LeakWaitObject, []string) {
		return source.WaitObjects(shown, res, members), source.LeakWhys(shown, res, members)
	})
}
