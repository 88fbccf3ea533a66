package cli

import (
	"context"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/internal/source"
)

var cmdCore = &command{
	name: "core", args: "CORE [--exe BINARY] [flags]", summary: "snapshot a core dump (kernel, gcore or dlv dump) like attach snapshots a process",
	examples: [][2]string{
		{"the groups of a core the kernel wrote", "gorigin core core.4242"},
		{"a core whose executable moved", "gorigin core core.4242 --exe ./api-server"},
		{"an HTML report of it", "gorigin core core.4242 --stacks --format html -o report.html"},
	},
	flags: func(f *flags) {
		f.snapshotFlags()
		f.liveFlags()
		f.exeFlag("the program that dumped the core (default: the file the core names, checked by build ID)")
		f.leaksFlag()
	},
	run:      runCore,
	operands: files,
}

// runCore is "gorigin core CORE [--exe BINARY]": the attach command's output, from a core dump.
func runCore(f *flags, pos []string, std stdio3) error {
	exe := f.exe
	if len(pos) != 1 {
		return usageError{msg: "core takes one core file: gorigin core CORE [--exe BINARY]"}
	}
	o, done := f.source()
	snap, err := source.Core(context.Background(), pos[0], exe, o)
	done()
	if err == nil && f.leaks {
		err = withLeaks(snap, pos[0], exe, f)
	}
	if err == nil && byObject(f) {
		if f.backend != "native" {
			return usageError{msg: "--by object reads what goroutines wait on with the native backend only: leave out --backend"}
		}
		err = source.CoreObjects(snap, pos[0], exe, o)
	}
	if err != nil {
		return err
	}
	boundOutputMemory()
	phase := capture.Tracer("output")
	defer phase("rendered %s", f.format)
	return render(snap, f, std.out)
}
