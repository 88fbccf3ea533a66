package cli

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/core"
	"github.com/gorigin-dev/gorigin/dbg/gdbmi"
	"github.com/gorigin-dev/gorigin/snapshot"
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
	open := map[string]func(path, exe string, f *flags) (*snapshot.Snapshot, error){
		"native": openCore, "delve": openDelveCore, "gdb": openGDBCore,
	}[f.backend]
	if open == nil {
		return usageError{msg: fmt.Sprintf("--backend %s: a core is read by gorigin itself (native, the default), by Delve (delve) or by GDB (gdb)", f.backend)}
	}
	snap, err := open(pos[0], exe, f)
	if err == nil && f.leaks {
		err = withLeaks(snap, pos[0], exe, f)
	}
	if err != nil {
		return err
	}
	phase := capture.Tracer("output")
	defer phase("rendered %s", f.format)
	return render(snap, f, std.out)
}

// openCore snapshots a core dump. A core has no clock: the runtime's nanotime at the
// moment of the dump is not recorded anywhere gorigin can trust, so Now is 0 and wait
// durations are left out rather than guessed.
func openCore(path, exe string, f *flags) (*snapshot.Snapshot, error) {
	c, err := openNativeCore(path, exe)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return takeCore(c, path, "native", f)
}

// openNativeCore opens a core with gorigin's own reader. Its bad input (not a core, a
// truncated one, no or the wrong executable) says so (dbg.BadInput); so does a core file
// that is not there or not readable.
func openNativeCore(path, exe string) (*core.Core, error) {
	c, err := core.Open(path, exe)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return nil, usageError{msg: err.Error(), err: err}
	}
	return c, err
}

// takeCore snapshots an opened core.
func takeCore(t dbg.Target, path, backend string, f *flags) (*snapshot.Snapshot, error) {
	progress := f.progress() // reading a large core takes seconds: a bar on a terminal
	defer progress.Clear()
	snap, err := capture.Take(t, capture.Options{
		Kind: "core", Backend: backend, Stacks: f.stacks, DebugFile: f.debugFile,
		Now:      func() int64 { return 0 },
		Progress: progress.Update,
	})
	if err != nil {
		return nil, fmt.Errorf("core %s: %w", path, err)
	}
	if len(snap.Goroutines) == 0 { // a Go program always has its main goroutine
		return nil, usageError{msg: fmt.Sprintf("core %s: runtime.allgs is empty: the core's memory is damaged, or it was written before the Go runtime started", path)}
	}
	return snap, nil
}

// openGDBCore snapshots a core that GDB opens with its executable and reads for gorigin.
// gorigin's own reader checks the input first (and finds the executable the core names,
// by build ID), so that bad input gets the same message whatever the backend.
func openGDBCore(path, exe string, f *flags) (*snapshot.Snapshot, error) {
	nc, err := openNativeCore(path, exe)
	if err != nil {
		return nil, err
	}
	exe = nc.Exe()
	nc.Close()
	c, err := gdbmi.OpenCore(path, exe, gdbmi.CoreOptions{Timeout: gdbTimeout()})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return takeCore(c, path, "gdb", f)
}
