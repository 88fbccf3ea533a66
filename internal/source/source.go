// Package source opens what gorigin snapshots: a live process through one of the debugger
// backends, a core dump, a goroutine dump or saved snapshot (a file, standard input or a
// profile URL). The command line, the DAP server, watch, diff and leaks all open their
// sources here, so they read a process, a core or a dump the same way and say the same
// things when it goes wrong.
//
// Errors about the input (no such process, not a core, a URL that answers no profile...)
// say so through dbg.BadInput.
package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/core"
	"github.com/gorigin-dev/gorigin/dbg/gdbmi"
	"github.com/gorigin-dev/gorigin/dbg/native"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// Options say how to read a process or a core.
type Options struct {
	// Backend is the debugger: native (also ""), gdb, delve, or dlv=HOST:PORT for a
	// running headless dlv.
	Backend string
	// Freeze is snapshot.FreezeAlways (also "") or snapshot.FreezeNever.
	Freeze snapshot.FreezeMode
	// MaxFreeze releases a live target after this long frozen (0: 2 s).
	MaxFreeze time.Duration
	// Stacks copies and unwinds every goroutine's stack.
	Stacks bool
	// DebugFile is the executable's separate debug file ("": looked for).
	DebugFile string
	// Progress, when set, hears how long work goes (for a progress bar).
	Progress func(stage string, done, total int)

	// GDBTimeout bounds one GDB/MI command (gdbmi's Timeout; 0: its default).
	GDBTimeout time.Duration
	// DlvGuard is the command that guards a dlv session gorigin halts
	// (delve.SessionOptions.Guard).
	DlvGuard []string
	// HoldFreeze and HoldBreakpoints are for tests: capture.Options.HoldFreeze,
	// delve.Options.HoldBreakpoints.
	HoldFreeze, HoldBreakpoints time.Duration
}

func (o Options) backend() string {
	if o.Backend == "" {
		return "native"
	}
	return o.Backend
}

func (o Options) maxFreeze() time.Duration {
	if o.MaxFreeze <= 0 {
		return 2 * time.Second
	}
	return o.MaxFreeze
}

// DlvAddr is the headless dlv's address of a dlv=HOST:PORT backend, or "".
func DlvAddr(backend string) string {
	addr, ok := strings.CutPrefix(backend, "dlv=")
	if !ok {
		return ""
	}
	return addr
}

// Attach snapshots the live process pid with the chosen backend; the target runs on
// afterwards whatever happens. With a dlv=HOST:PORT backend pid may be 0: dlv says which.
func Attach(ctx context.Context, pid int, o Options) (*snapshot.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	backend := o.backend()
	image := processImage(pid) // to tell an exec from other read errors
	// A pid that never existed is "no such process", not a process that exited meanwhile.
	_, statErr := os.Stat(fmt.Sprintf("/proc/%d", pid))
	existed := !errors.Is(statErr, fs.ErrNotExist)
	if (backend == "gdb" || backend == "delve") && DlvAddr(backend) == "" {
		// Zombies, kernel threads, no permission: the same message whatever the backend.
		if err := native.Check(pid); err != nil {
			return nil, err
		}
	}
	if backend == "delve" || DlvAddr(backend) != "" {
		return attachDelve(ctx, pid, o)
	}
	var proc dbg.Target
	var err error
	if backend == "gdb" {
		proc, err = gdbmi.Attach(pid, gdbmi.ProcessOptions{MaxFreeze: o.maxFreeze(), Timeout: o.GDBTimeout})
	} else {
		proc, err = native.Attach(pid, native.Options{MaxFreeze: o.maxFreeze()})
	}
	if why := vanished(pid, image); err != nil && existed && why != "" && !errors.Is(err, dbg.ErrExited) {
		return nil, dbg.Errorf(dbg.ErrExited, "pid %d %s while gorigin attached (%v)", pid, why, err)
	}
	if err != nil {
		return nil, err
	}
	defer proc.Close()
	snap, err := capture.TakeContext(ctx, proc, capture.Options{Freeze: o.Freeze, Stacks: o.Stacks, Backend: snapshot.Backend(backend), Progress: o.Progress, DebugFile: o.DebugFile, MaxFreeze: o.maxFreeze(), HoldFreeze: o.HoldFreeze})
	if err != nil {
		return nil, readError(pid, image, err)
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

// readError says why reading pid failed: it exited or exec'd since gorigin attached
// (image is its image then), or err.
func readError(pid int, image []byte, err error) error {
	why := vanished(pid, image)
	switch {
	case why != "" && errors.Is(err, dbg.ErrExited):
		// The backend's words only repeat it ("read target memory: … process exited").
		return dbg.Errorf(dbg.ErrExited, "pid %d %s while gorigin was reading it: run gorigin again", pid, why)
	case why != "":
		return dbg.Errorf(dbg.ErrExited, "pid %d %s while gorigin was reading it (%v): run gorigin again", pid, why, err)
	}
	return fmt.Errorf("pid %d: %w", pid, err)
}

// Core snapshots a core dump with the chosen backend: gorigin's own reader (native), GDB
// or Delve. exe is the program that dumped it ("": the one the core names, checked by
// build ID). A core has no clock: the runtime's nanotime at the moment of the dump is not
// recorded anywhere gorigin can trust, so wait durations are left out rather than guessed.
func Core(ctx context.Context, path, exe string, o Options) (*snapshot.Snapshot, error) {
	snap, err := readCore(ctx, path, exe, o)
	if err == nil {
		coreTime(snap, path)
	}
	return snap, err
}

func readCore(ctx context.Context, path, exe string, o Options) (*snapshot.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch o.backend() {
	case "native":
		c, err := OpenCore(path, exe)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return takeCore(ctx, c, path, snapshot.BackendNative, o)
	case "gdb":
		return gdbCore(ctx, path, exe, o)
	case "delve":
		return delveCore(ctx, path, exe, o)
	}
	return nil, badInput(nil, "--backend %s: a core is read by gorigin itself (native, the default), by Delve (delve) or by GDB (gdb)", o.Backend)
}

// OpenCore opens a core with gorigin's own reader. Its bad input (not a core, a truncated
// one, no or the wrong executable) says so (dbg.BadInput); so does a core file that is
// not there or not readable.
func OpenCore(path, exe string) (*core.Core, error) {
	c, err := core.Open(path, exe)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return nil, badInput(err, "%v", err)
	}
	return c, err
}

// takeCore snapshots an opened core.
func takeCore(ctx context.Context, t dbg.Target, path string, backend snapshot.Backend, o Options) (*snapshot.Snapshot, error) {
	snap, err := capture.TakeContext(ctx, t, capture.Options{
		Kind: snapshot.KindCore, Backend: backend, Stacks: o.Stacks, DebugFile: o.DebugFile,
		Now:      func() int64 { return 0 },
		Progress: o.Progress,
	})
	if err != nil {
		return nil, fmt.Errorf("core %s: %w", path, err)
	}
	if len(snap.Goroutines) == 0 { // a Go program always has its main goroutine
		return nil, badInput(nil, "core %s: runtime.allgs is empty: the core's memory is damaged, or it was written before the Go runtime started", path)
	}
	return snap, nil
}

// gdbCore snapshots a core that GDB opens with its executable and reads for gorigin.
// gorigin's own reader checks the input first (and finds the executable the core names,
// by build ID), so that bad input gets the same message whatever the backend.
func gdbCore(ctx context.Context, path, exe string, o Options) (*snapshot.Snapshot, error) {
	nc, err := OpenCore(path, exe)
	if err != nil {
		return nil, err
	}
	exe = nc.Exe()
	nc.Close()
	c, err := gdbmi.OpenCore(path, exe, gdbmi.CoreOptions{Timeout: o.GDBTimeout})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return takeCore(ctx, c, path, snapshot.BackendGDB, o)
}

// inputError is bad input in the words of the source it was read from: dbg.BadInput.
type inputError struct {
	msg string
	err error
}

func (e *inputError) Error() string  { return e.msg }
func (e *inputError) Unwrap() error  { return e.err }
func (e *inputError) BadInput() bool { return true }

// badInput is an error about the input with the message format says; err, if not nil,
// is its cause.
func badInput(err error, format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...), err: err}
}
