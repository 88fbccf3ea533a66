// Package capture takes a snapshot of a Go process through any dbg.Target: it learns the
// runtime's layout from the executable, freezes the target, copies allgs, the g structs and
// (optionally) the stacks with a few large reads, thaws it, and only then decodes and
// symbolises what it copied into a snapshot.Snapshot.
//
// It knows the order of operations and nothing about how a backend stops a process
// (package dbg) or how a runtime.g is laid out (package gstruct).
package capture

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gorigin-dev/gorigin/addr2line"
	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/gstruct"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// Freeze modes.
const (
	FreezeAlways = "always" // stop the target while copying: a consistent snapshot
	FreezeNever  = "never"  // copy a running target twice and mark what changed: no pause at all
)

// Options say what to copy and how.
type Options struct {
	Freeze string // FreezeAlways (default) or FreezeNever
	Stacks bool   // copy each goroutine's stack and unwind it (frame pointers)
	Kind   string // the snapshot's source kind: "live" (default) or "core"
	// Backend names the dbg backend in the snapshot ("native", ...).
	Backend string
	// Now is the target's monotonic clock (runtime nanotime) at the moment of the copy, to turn
	// g.waitsince into a duration. Zero means: read this machine's CLOCK_MONOTONIC, which is
	// the same clock for a live process on this machine.
	Now func() int64
	// hold keeps the target frozen this long after freezing (tests kill gorigin mid-freeze).
	hold time.Duration
}

// freezeTimer is implemented by backends that measure their own freeze (from the first
// thread stopped to the last resumed); capture measures around Freeze/Thaw otherwise.
type freezeTimer interface{ LastFreeze() time.Duration }

// expirer is implemented by backends with a max-freeze watchdog.
type expirer interface{ Expired() bool }

// Take snapshots the goroutines of t. The executable is read from t.Exe().
func Take(t dbg.Target, opt Options) (*snapshot.Snapshot, error) {
	if opt.Freeze == "" {
		opt.Freeze = FreezeAlways
	}
	if opt.Freeze != FreezeAlways && opt.Freeze != FreezeNever {
		return nil, fmt.Errorf("freeze mode %q: use always or never", opt.Freeze)
	}
	if opt.Kind == "" {
		opt.Kind = "live"
	}
	if d, err := time.ParseDuration(os.Getenv("GORIGIN_TEST_HOLD_FREEZE")); err == nil {
		opt.hold = d
	}
	exe := t.Exe()
	rt, err := gstruct.Open(exe)
	if err != nil {
		return nil, err
	}
	maps, err := t.Mappings()
	if err != nil {
		return nil, err
	}
	if err := rt.Bind(t, maps, exe); err != nil {
		return nil, err
	}
	syms, err := addr2line.Open(exe)
	if err != nil {
		return nil, fmt.Errorf("read the executable's line table: %w", err)
	}

	snap := &snapshot.Snapshot{
		Schema: snapshot.Schema,
		Source: snapshot.Source{
			Kind: opt.Kind, Backend: opt.Backend, Pid: t.Pid(), Exe: exeName(t),
			GoVersion: rt.GoVersion(), Freeze: opt.Freeze,
		},
	}
	if opt.Kind != "live" {
		snap.Source.Freeze = ""
	}

	var raw *copied
	if opt.Freeze == FreezeNever {
		raw, err = copyRunning(t, rt, opt)
	} else {
		raw, err = copyFrozen(t, rt, opt, snap)
	}
	if err != nil {
		return nil, err
	}
	snap.Source.TakenAt = raw.takenAt
	build(snap, rt, syms, raw, opt)
	if raw.partial != "" {
		snap.Source.Partial = true
		snap.Warnings = append(snap.Warnings, raw.partial)
	}
	return snap, nil
}

// copied is what was read from the target, before any decoding beyond the g structs.
type copied struct {
	gs      []gstruct.G
	changed map[uint64]bool   // g address → its state changed between the two reads (FreezeNever)
	stacks  map[uint64][]byte // g address → stack bytes from sched.sp up to stack.hi
	now     int64             // the target's nanotime at the copy
	takenAt time.Time
	partial string // why the copy is incomplete, or ""
}

// copyFrozen freezes t, copies, and thaws it, measuring the freeze.
func copyFrozen(t dbg.Target, rt *gstruct.Runtime, opt Options, snap *snapshot.Snapshot) (c *copied, err error) {
	if err := t.Freeze(); err != nil {
		t.Thaw()
		return nil, err
	}
	start := time.Now()
	thawed := false
	thaw := func() error {
		if thawed {
			return nil
		}
		thawed = true
		err := t.Thaw()
		snap.Source.FreezeMicros = time.Since(start).Microseconds()
		if ft, ok := t.(freezeTimer); ok && ft.LastFreeze() > 0 {
			snap.Source.FreezeMicros = ft.LastFreeze().Microseconds()
		}
		return err
	}
	defer func() {
		if terr := thaw(); terr != nil && err == nil {
			err = fmt.Errorf("let the target run again: %w", terr)
		}
	}()
	if opt.hold > 0 {
		time.Sleep(opt.hold)
	}
	c = &copied{now: monotonicNow(opt), takenAt: time.Now().UTC()}
	gs, raws, err := readGs(t, rt)
	if err != nil {
		return nil, err
	}
	c.gs = decodeAll(rt, gs, raws)
	if opt.Stacks {
		c.stacks = readStacks(t, c.gs)
	}
	if err := readLabels(t, rt, c.gs); err != nil {
		return nil, err
	}
	if ex, ok := t.(expirer); ok && ex.Expired() {
		c.partial = "the target stayed frozen past --max-freeze and was released early: this snapshot may mix states from before and after"
	}
	if err := thaw(); err != nil {
		return nil, fmt.Errorf("let the target run again: %w", err)
	}
	return c, nil
}

// copyRunning reads t twice without stopping it and marks goroutines that changed between.
func copyRunning(t dbg.Target, rt *gstruct.Runtime, opt Options) (*copied, error) {
	c := &copied{now: monotonicNow(opt), takenAt: time.Now().UTC(), changed: map[uint64]bool{}}
	addrs1, raws1, err := readGs(t, rt)
	if err != nil {
		return nil, err
	}
	first := map[uint64]gstruct.G{}
	for i, g := range decodeAll(rt, addrs1, raws1) {
		first[addrs1[i]] = g
	}
	addrs2, raws2, err := readGs(t, rt)
	if err != nil {
		return nil, err
	}
	c.gs = decodeAll(rt, addrs2, raws2)
	for _, g := range c.gs {
		if before, ok := first[g.Addr]; !ok || !sameState(before, g) {
			c.changed[g.Addr] = true
		}
	}
	if opt.Stacks {
		c.stacks = readStacks(t, c.gs)
	}
	if err := readLabels(t, rt, c.gs); err != nil {
		return nil, err
	}
	return c, nil
}

// sameState reports whether two reads of one g describe the same goroutine in the same state.
func sameState(a, b gstruct.G) bool {
	return a.ID == b.ID && a.StatusCode == b.StatusCode && a.WaitReason == b.WaitReason &&
		a.GoPC == b.GoPC && a.StartPC == b.StartPC && a.SchedPC == b.SchedPC && a.LabelsPtr == b.LabelsPtr
}

func decodeAll(rt *gstruct.Runtime, addrs []uint64, raws [][]byte) []gstruct.G {
	gs := make([]gstruct.G, len(addrs))
	for i, a := range addrs {
		gs[i] = rt.Decode(a, raws[i])
	}
	return gs
}

func readLabels(t dbg.Target, rt *gstruct.Runtime, gs []gstruct.G) error {
	var with []*gstruct.G
	for i := range gs {
		if gs[i].LabelsPtr != 0 && gs[i].Status != "dead" {
			with = append(with, &gs[i])
		}
	}
	if len(with) == 0 {
		return nil
	}
	if err := rt.ReadLabels(t, with); err != nil {
		var re *dbg.ReadError
		if errors.As(err, &re) {
			return nil // labels of goroutines that changed meanwhile: leave them empty
		}
		return fmt.Errorf("read goroutine labels: %w", err)
	}
	return nil
}

func exeName(t dbg.Target) string {
	if p, err := os.Readlink(t.Exe()); err == nil {
		return strings.TrimSuffix(p, " (deleted)")
	}
	return t.Exe()
}
