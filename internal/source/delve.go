//go:build !nodelve

package source

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/core"
	"github.com/gorigin-dev/gorigin/dbg/delve"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// attachDelve snapshots a live process with Delve: embedded (--backend delve) or through a
// running headless dlv (--backend dlv=HOST:PORT, where pid may be 0: dlv says which).
func attachDelve(ctx context.Context, pid int, o Options) (*snapshot.Snapshot, error) {
	image := processImage(pid) // to tell an exec from other read errors
	var t dbg.Target
	backend := "delve"
	var sess *delve.Session
	if addr := DlvAddr(o.Backend); addr != "" {
		backend = "dlv"
		s, err := delve.Dial(addr, pid, delve.SessionOptions{Guard: o.DlvGuard})
		if err != nil {
			return nil, err
		}
		pid, t, sess = s.Pid(), s, s
	} else {
		p, err := delve.Attach(pid, delve.Options{MaxFreeze: o.maxFreeze(), HoldBreakpoints: o.HoldBreakpoints})
		if err != nil {
			return nil, delveFailed(err, fmt.Sprintf("/proc/%d/exe", pid))
		}
		t = p
	}
	defer t.Close()
	snap, err := capture.TakeContext(ctx, t, capture.Options{Freeze: o.Freeze, Stacks: o.Stacks, Backend: snapshot.Backend(backend), DebugFile: o.DebugFile, MaxFreeze: o.maxFreeze(), HoldFreeze: o.HoldFreeze})
	if err != nil {
		if vanished(pid, image) != "" {
			return nil, readError(pid, image, err) // it exited or exec'd meanwhile
		}
		return nil, delveFailed(fmt.Errorf("pid %d: %w", pid, err), fmt.Sprintf("/proc/%d/exe", pid))
	}
	if sess != nil && sess.WasHalted() {
		snap.Source.FreezeMicros = 0
		snap.Warnings = append(snap.Warnings, "the dlv session was already halted: gorigin read it as it was and left it halted")
	}
	delveVersionNote(snap)
	return snap, t.Close()
}

// delveCore snapshots a core with Delve's core backend. The executable is --exe or
// the one the core names (found and checked by build ID as for the native core reader).
func delveCore(ctx context.Context, path, exe string, o Options) (*snapshot.Snapshot, error) {
	if exe == "" {
		c, err := core.Open(path, "")
		if err != nil {
			return nil, err
		}
		exe = c.Exe()
		c.Close()
	}
	c, err := delve.OpenCore(path, exe)
	if err != nil {
		if os.IsNotExist(errors.Unwrap(err)) {
			return nil, badInput(err, "%v", delveFailed(err, exe))
		}
		return nil, delveFailed(err, exe)
	}
	defer c.Close()
	snap, err := capture.TakeContext(ctx, c, capture.Options{
		Kind: snapshot.KindCore, Backend: snapshot.BackendDelve, Stacks: o.Stacks, DebugFile: o.DebugFile,
		Now: func() int64 { return 0 },
	})
	if err != nil {
		return nil, delveFailed(fmt.Errorf("core %s: %w", path, err), exe)
	}
	delveVersionNote(snap)
	return snap, nil
}

// delveVersionNote warns when the target's Go release is one Delve itself does not support:
// gorigin used Delve only to stop the process and read memory, so the snapshot stands.
func delveVersionNote(snap *snapshot.Snapshot) {
	if !delve.Supports(snap.Source.GoVersion) {
		lo, hi := delve.SupportedGo()
		snap.Warnings = append(snap.Warnings, fmt.Sprintf(
			"Delve %s supports Go 1.%d to 1.%d and the target is %s: gorigin used Delve only to stop the process and read its memory, and decoded the runtime itself (--backend native does without Delve)",
			delve.Version(), lo, hi, snap.Source.GoVersion))
	}
}

// delveFailed adds to an error of Delve's on the executable exe, when exe was built by a
// Go release Delve does not support, that this may be why and what to use instead.
func delveFailed(err error, exe string) error {
	info, berr := buildinfo.ReadFile(exe)
	if berr != nil {
		return err
	}
	return delveHint(err, info.GoVersion)
}

// delveHint is delveFailed for a target built by goVersion.
func delveHint(err error, goVersion string) error {
	if delve.Supports(goVersion) {
		return err
	}
	lo, hi := delve.SupportedGo()
	return fmt.Errorf("%w (Delve %s supports Go 1.%d to 1.%d and the target was built by %s: use --backend native, which supports Go 1.20 to 1.27)",
		err, delve.Version(), lo, hi, goVersion)
}
