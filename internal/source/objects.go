package source

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/native"
	"github.com/gorigin-dev/gorigin/leaks"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// AttachObjects snapshots a live process with the native backend and reads, in the same
// freeze, what each blocked goroutine waits on (snapshot.Goroutine.WaitsOn): its sudogs
// and the globals are copied just before the thaw (leaks.ObjectReader); the objects'
// types and what holds them are found after it.
func AttachObjects(ctx context.Context, pid int, o Options) (*snapshot.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	image := processImage(pid)
	proc, err := native.Attach(pid, native.Options{MaxFreeze: o.maxFreeze()})
	if why := vanished(pid, image); err != nil && why != "" && !errors.Is(err, dbg.ErrExited) {
		return nil, dbg.Errorf(dbg.ErrExited, "pid %d %s while gorigin attached (%v)", pid, why, err)
	}
	if err != nil {
		return nil, err
	}
	defer proc.Close()
	r, err := leaks.BeginObjects(proc, leaks.Options{DebugFile: o.DebugFile})
	if err != nil {
		return nil, fmt.Errorf("pid %d: --by object: %w", pid, err)
	}
	snap, err := capture.TakeContext(ctx, proc, capture.Options{Frozen: r.Frozen, Freeze: o.Freeze, Stacks: o.Stacks, Backend: snapshot.BackendNative, Progress: o.Progress, DebugFile: o.DebugFile, MaxFreeze: o.maxFreeze(), HoldFreeze: o.HoldFreeze})
	if err != nil {
		return nil, readError(pid, image, err)
	}
	if snap.Source.Freeze == snapshot.FreezeNever {
		snap.Warnings = append(snap.Warnings, "--freeze never: what the goroutines wait on was read after their states, while the target ran; it may not match them")
	}
	applyObjects(snap, r)
	return snap, proc.Close()
}

// CoreObjects adds to a snapshot of a core what each blocked goroutine waits on.
func CoreObjects(snap *snapshot.Snapshot, path, exe string, o Options) error {
	c, err := OpenCore(path, exe)
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := leaks.BeginObjects(c, leaks.Options{DebugFile: o.DebugFile})
	if err != nil {
		return fmt.Errorf("core %s: --by object: %w", path, err)
	}
	applyObjects(snap, r)
	return nil
}

// applyObjects sets WaitsOn from what r found; when it found nothing, a warning says why.
func applyObjects(snap *snapshot.Snapshot, r *leaks.ObjectReader) {
	objs, err := r.Finish()
	if err != nil {
		snap.Warnings = append(snap.Warnings, err.Error())
		return
	}
	snap.Warnings = append(snap.Warnings, objs.Warnings...)
	for i := range snap.Goroutines {
		g := &snap.Goroutines[i]
		for _, w := range objs.WaitOn[g.ID] {
			g.WaitsOn = append(g.WaitsOn, waitObject(w, objs.ReachedFrom[w.Addr]))
		}
	}
}

// LeakObjects sets WaitsOn from a leak analysis (--by object with --leaks or gorigin
// leaks): what a leaked goroutine waits on is reached from nothing that can run, what a
// live one waits on from something that can, as the marking proved.
func LeakObjects(snap *snapshot.Snapshot, res *leaks.Result) {
	for i := range snap.Goroutines {
		g := &snap.Goroutines[i]
		v := res.Verdicts[g.ID]
		for _, w := range v.WaitOn {
			from := ""
			switch {
			case w.Where == "global" && w.Object != "":
				from = "the global " + w.Object
			case strings.HasPrefix(w.Where, "stack of goroutine "):
				from = "the " + w.Where
			case v.Leak == leaks.Leaked:
				from = "nothing that can run (leaked)"
			case v.Leak == leaks.Live && !v.ByDesign:
				from = "something that can run (live)"
			}
			g.WaitsOn = append(g.WaitsOn, waitObject(w, from))
		}
	}
}

func waitObject(w leaks.WaitObject, from string) snapshot.WaitObject {
	t := w.Type
	switch {
	case t == "" && w.Kind == "chan" && w.ElemSize > 0:
		t = fmt.Sprintf("chan (%d-byte elements)", w.ElemSize)
	case t == "" && w.Kind == "cond":
		t = "sync.Cond"
	}
	return snapshot.WaitObject{Kind: w.Kind, Addr: fmt.Sprintf("%#x", w.Addr), Type: t, ReachedFrom: from}
}
