package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/core"
	"github.com/gorigin-dev/gorigin/dbg/delve"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// The Go releases Delve v1.27.2 itself supports (pkg/goversion). dlv core and dlv exec
// refuse others unless started with --check-go-version=false; dlv attach does not check.
const delveMinGo, delveMaxGo = 25, 27

// checkBackend validates --backend and --dlv: native, gdb, delve, or dlv=HOST:PORT
// (--dlv HOST:PORT is the same).
func checkBackend(f *flags) error {
	if f.dlv != "" {
		if f.backend != "native" && f.backend != "dlv="+f.dlv {
			return usageError{fmt.Sprintf("--dlv %s and --backend %s: pick one", f.dlv, f.backend)}
		}
		f.backend = "dlv=" + f.dlv
	}
	switch {
	case f.backend == "native", f.backend == "gdb", f.backend == "delve":
	case strings.HasPrefix(f.backend, "dlv="):
		if !strings.Contains(strings.TrimPrefix(f.backend, "dlv="), ":") {
			return usageError{fmt.Sprintf("--backend %s: give the headless dlv's address, dlv=HOST:PORT", f.backend)}
		}
	default:
		return usageError{fmt.Sprintf("--backend %q: use native, gdb, delve or dlv=HOST:PORT", f.backend)}
	}
	if (f.backend == "delve" || dlvAddr(f) != "") && f.freeze == capture.FreezeNever {
		return usageError{"--freeze never reads the process without any debugger: use it with --backend native"}
	}
	return nil
}

// dlvAddr is the headless dlv's address for --backend dlv=HOST:PORT, or "".
func dlvAddr(f *flags) string {
	addr, _ := strings.CutPrefix(f.backend, "dlv=")
	if addr == f.backend {
		return ""
	}
	return addr
}

// attachDelve snapshots a live process with Delve: embedded (--backend delve) or through a
// running headless dlv (--backend dlv=HOST:PORT, where pid may be 0: dlv says which).
func attachDelve(pid int, f *flags) (*snapshot.Snapshot, error) {
	var t dbg.Target
	backend := "delve"
	var sess *delve.Session
	if addr := dlvAddr(f); addr != "" {
		backend = "dlv"
		s, err := delve.Dial(addr, pid, delve.SessionOptions{})
		if errors.Is(err, delve.ErrNoDlv) || errors.Is(err, delve.ErrNotMulticlient) || errors.Is(err, delve.ErrOtherProcess) {
			return nil, usageError{err.Error()}
		}
		if err != nil {
			return nil, err
		}
		pid, t, sess = s.Pid(), s, s
	} else {
		p, err := delve.Attach(pid, delve.Options{MaxFreeze: f.maxFreeze})
		if err != nil {
			return nil, err
		}
		t = p
	}
	defer t.Close()
	snap, err := capture.Take(t, capture.Options{Freeze: f.freeze, Stacks: f.stacks, Backend: backend})
	if err != nil {
		if _, serr := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(serr) && !errors.Is(err, dbg.ErrExited) {
			return nil, fmt.Errorf("pid %d exited while gorigin was reading it (%v): %w", pid, err, dbg.ErrExited)
		}
		return nil, fmt.Errorf("pid %d: %w", pid, err)
	}
	if sess != nil && sess.WasHalted() {
		snap.Source.FreezeMicros = 0
		snap.Warnings = append(snap.Warnings, "the dlv session was already halted: gorigin read it as it was and left it halted")
	}
	delveVersionNote(snap)
	return snap, t.Close()
}

// openDelveCore snapshots a core with Delve's core backend. The executable is --exe or
// the one the core names (found and checked by build ID as for the native core reader).
func openDelveCore(path, exe string, f *flags) (*snapshot.Snapshot, error) {
	if exe == "" {
		c, err := core.Open(path, "")
		if err != nil {
			if errors.Is(err, core.ErrNotCore) || errors.Is(err, core.ErrTruncated) ||
				errors.Is(err, core.ErrNoExecutable) || errors.Is(err, core.ErrMismatch) {
				return nil, usageError{err.Error()}
			}
			return nil, err
		}
		exe = c.Exe()
		c.Close()
	}
	c, err := delve.OpenCore(path, exe)
	if err != nil {
		if errors.Is(err, delve.ErrCoreFormat) || os.IsNotExist(errors.Unwrap(err)) {
			return nil, usageError{err.Error()}
		}
		return nil, err
	}
	defer c.Close()
	snap, err := capture.Take(c, capture.Options{
		Kind: "core", Backend: "delve", Stacks: f.stacks,
		Now: func() int64 { return 0 },
	})
	if err != nil {
		return nil, fmt.Errorf("core %s: %w", path, err)
	}
	delveVersionNote(snap)
	return snap, nil
}

// delveVersionNote warns when the target's Go release is one Delve itself does not support:
// gorigin used Delve only to stop the process and read memory, so the snapshot stands.
func delveVersionNote(snap *snapshot.Snapshot) {
	v := strings.TrimPrefix(snap.Source.GoVersion, "go")
	major, rest, _ := strings.Cut(v, ".")
	minorStr, _, _ := strings.Cut(rest, ".")
	minor, err := strconv.Atoi(minorStr)
	if major != "1" || err != nil || (minor >= delveMinGo && minor <= delveMaxGo) {
		return
	}
	snap.Warnings = append(snap.Warnings, fmt.Sprintf(
		"Delve v1.27.2 supports Go 1.%d to 1.%d and the target is %s: gorigin used Delve only to stop the process and read its memory, and decoded the runtime itself",
		delveMinGo, delveMaxGo, snap.Source.GoVersion))
}
