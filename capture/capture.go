// Package capture takes a snapshot of a Go process through any dbg.Target: it learns the
// runtime's layout from the executable, freezes the target, copies allgs, the g structs and
// (optionally) the stacks with a few large reads, thaws it, and only then decodes and
// symbolises what it copied into a snapshot.Snapshot.
//
// It knows the order of operations and nothing about how a backend stops a process
// (package dbg) or how a runtime.g is laid out (package gstruct).
package capture

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorigin-dev/gorigin/addr2line"
	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/gstruct"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// Freeze modes.
const (
	FreezeAlways = snapshot.FreezeAlways // stop the target while copying: a consistent snapshot
	FreezeNever  = snapshot.FreezeNever  // copy a running target twice and mark what changed: no pause at all
)

// Options say what to copy and how.
type Options struct {
	Freeze snapshot.FreezeMode // FreezeAlways (default) or FreezeNever
	Stacks bool                // copy each goroutine's stack and unwind it (frame pointers)
	Kind   snapshot.SourceKind // the snapshot's source kind: KindLive (default) or KindCore
	// Backend names the dbg backend in the snapshot (BackendNative, ...).
	Backend snapshot.Backend
	// MaxFreeze is the backend's --max-freeze: a freeze that outlasted it (a watchdog the
	// machine was too busy to run in time) marks the snapshot partial, as one the
	// watchdog cut short is. Zero: no limit to check.
	MaxFreeze time.Duration
	// DebugFile names the executable's separate debug file (DWARF and symbols, matched by
	// build ID); empty: the executable's own, or one found where GDB looks.
	DebugFile string
	// Now is the target's monotonic clock (runtime nanotime) at the moment of the copy, to turn
	// g.waitsince into a duration. Zero means: read this machine's CLOCK_MONOTONIC, which is
	// the same clock for a live process on this machine.
	Now func() int64
	// Progress, when set, hears how long work goes (for a progress bar): the stage, and
	// done of total units (total 0: unknown). It is never called while the target is frozen.
	Progress func(stage string, done, total int)
	// HoldFreeze keeps the target frozen this long after freezing, for tests that kill
	// gorigin mid-freeze (gorigin's cli takes it from $GORIGIN_TEST_HOLD_FREEZE).
	HoldFreeze time.Duration
	// Frozen, when set, is called while the target is still frozen, just before the
	// thaw, with the g structs as read (addresses and bytes, valid only during the
	// call): for callers that read more of the same moment (leaks.ObjectReader). It is
	// not called with FreezeNever.
	Frozen func(addrs []uint64, raws [][]byte)
}

func (o Options) progress(stage string, done, total int) {
	if o.Progress != nil {
		o.Progress(stage, done, total)
	}
}

// Take snapshots the goroutines of t. The executable is read from t.Exe().
func Take(t dbg.Target, opt Options) (*snapshot.Snapshot, error) {
	return TakeContext(context.Background(), t, opt)
}

// TakeContext is Take that gives up when ctx ends: before it stops the target, or after
// the copy, between the stages of the work (never while the target is stopped, which
// always ends with the target running again).
func TakeContext(ctx context.Context, t dbg.Target, opt Options) (*snapshot.Snapshot, error) {
	if opt.Freeze == "" {
		opt.Freeze = FreezeAlways
	}
	if opt.Freeze != FreezeAlways && opt.Freeze != FreezeNever {
		return nil, fmt.Errorf("freeze mode %q: use always or never", opt.Freeze)
	}
	if opt.Kind == "" {
		opt.Kind = snapshot.KindLive
	}
	exe := t.Exe()
	opt.progress("reading the target", 0, 0)
	phase := tracer("setup")
	// The runtime's layout (DWARF) and the line table (pclntab) are independent: read them
	// side by side.
	var syms *addr2line.Table
	var symsErr error
	symsDone := make(chan struct{})
	go func() {
		defer close(symsDone)
		syms, symsErr = addr2line.Open(exe)
	}()
	rt, err := gstruct.OpenWith(exe, gstruct.OpenOptions{DebugFile: opt.DebugFile})
	<-symsDone
	if err != nil {
		return nil, err
	}
	if symsErr != nil {
		return nil, fmt.Errorf("read the executable's line table: %w", symsErr)
	}
	maps, err := t.Mappings()
	if err != nil {
		return nil, err
	}
	if err := rt.Bind(t, maps, exe); err != nil {
		return nil, err
	}
	phase("read the executable: %s", rt.Source())

	snap := &snapshot.Snapshot{
		Schema: snapshot.Schema,
		Source: snapshot.Source{
			Kind: opt.Kind, Backend: opt.Backend, Pid: t.Pid(), Exe: exeName(t),
			GoVersion: rt.GoVersion(), Freeze: opt.Freeze,
		},
	}
	if opt.Kind != snapshot.KindLive {
		snap.Source.Freeze = ""
	}
	if opt.Stacks && !unwindable(exe) {
		opt.Stacks = false
		snap.Warnings = append(snap.Warnings, "--stacks: this gorigin unwinds amd64 stacks only; goroutines are listed without frames")
	}
	if p, err := os.Readlink(exe); err == nil && strings.HasSuffix(p, " (deleted)") {
		snap.Warnings = append(snap.Warnings, "the target's executable was deleted or replaced on disk since it started; gorigin read the original through "+exe)
	}

	if err := ctx.Err(); err != nil {
		return nil, err // the caller left while the executable was read: do not stop the target
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
	if err := ctx.Err(); err != nil {
		raw.release()
		return nil, err
	}
	phase = tracer("thawed")
	pending := build(snap, rt, syms, raw, opt)
	raw.release()
	phase("symbolised %d goroutines", len(snap.Goroutines))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if unwindable(exe) {
		startsFromStacks(t, rt, syms, snap, pending)
		phase("read %d stacks for start functions behind wrappers", len(pending))
	}
	if raw.partial != "" {
		snap.Source.Partial = true
		snap.Warnings = append([]string{raw.partial}, snap.Warnings...) // Warnings[0] says why
	}
	if raw.ranLate != "" {
		snap.Source.Freeze, snap.Source.FreezeMicros = FreezeNever, 0
		snap.Warnings = append(snap.Warnings, raw.ranLate)
	}
	return snap, nil
}

// copied is what was read from the target, before any decoding beyond the g structs.
type copied struct {
	// gs are the decoded g's, or nil: then build decodes each of addrs/raws in turn, so
	// that 1,000,000 goroutines are never held decoded twice (gstruct.G and snapshot).
	gs      []gstruct.G
	addrs   []uint64
	raws    [][]byte
	labels  map[uint64]map[string]string // g address → its pprof labels
	changed map[uint64]bool              // g address → its state changed between the two reads (FreezeNever)
	stacks  map[uint64][]byte            // g address → stack bytes from sched.sp up to stack.hi
	now     int64                        // the target's nanotime at the copy
	takenAt time.Time
	partial string // why the copy is incomplete, or ""
	// ranLate says why a freeze was given up and the target read running instead, or "".
	ranLate string
	free    func() // gives back the buffer under raws; raws are not to be used after it
	// decoded, when set, is told by build that raws[0..i] are decoded and will not be read
	// again, to give back the buffer under them (gCopy.giveBack).
	decoded func(i int)
}

// count is how many g's were copied.
func (c *copied) count() int {
	if c.gs != nil {
		return len(c.gs)
	}
	return len(c.addrs)
}

// g returns the i-th copied g, decoded, with its labels.
func (c *copied) g(rt *gstruct.Runtime, i int) gstruct.G {
	var g gstruct.G
	if c.gs != nil {
		g = c.gs[i]
	} else {
		g = rt.Decode(c.addrs[i], c.raws[i])
	}
	if l := c.labels[g.Addr]; l != nil {
		g.Labels = l
	}
	return g
}

// done says that the first i+1 copied g's are decoded and their raw bytes will not be
// read again.
func (c *copied) done(i int) {
	if c.decoded != nil {
		c.decoded(i)
	}
}

// release gives back the copy's buffer (once the g's are built into the snapshot).
func (c *copied) release() {
	c.raws, c.decoded = nil, nil
	if c.free != nil {
		c.free()
	}
}

// copyFrozen freezes t, copies, and thaws it, measuring the freeze. Everything that can be
// done before the freeze (finding the g structs, allocating buffers) or after it (decoding)
// is; the freeze holds only the reads.
func copyFrozen(t dbg.Target, rt *gstruct.Runtime, opt Options, snap *snapshot.Snapshot) (c *copied, err error) {
	phase := tracer("running")
	before, err := rt.AllGs(t)
	if err != nil {
		return nil, err
	}
	// The Frozen hook may read any part of a g (package leaks reads g.waiting): it gets
	// whole ones.
	plan := planPacked(before, uint64(rt.GSize()),
		packedKeep(len(before), uint64(rt.GSize()), uint64(rt.DecodedBytes()), opt.Frozen != nil))
	defer func() {
		if err != nil {
			plan.free()
		}
	}()
	// A first copy of the running target: the second copy of the same pages, made while it
	// is frozen, takes a quarter of the time of the first (measured: 100k g's, 46 MB, about
	// 100 ms cold and 22 ms warm).
	_, warm, err := plan.read(t, before)
	if err != nil {
		return nil, err
	}
	var arena *stackArena
	var stacks *warmStacks
	if opt.Stacks {
		arena = newStackArena(rt, warm)
		stacks = copyStacksWarm(t, rt.Decode, before, warm, arena)
	}
	phase("planned the copy of %d g structs in %d regions", len(before), len(plan.regions))

	if ferr := t.Freeze(); ferr != nil {
		t.Thaw()
		if !errors.Is(ferr, dbg.ErrStopTimeout) {
			return nil, ferr
		}
		// Some thread did not stop within the limit (uninterruptible sleep, a machine too
		// busy to schedule it): read the running target instead, as --freeze never does,
		// and say so.
		plan.free()
		c, rerr := copyRunning(t, rt, opt)
		if rerr != nil {
			return nil, errors.Join(ferr, rerr)
		}
		c.ranLate = fmt.Sprintf("not every thread stopped within --max-freeze (%v): the target was read running, as with --freeze never, and goroutines that changed meanwhile are marked", ferr)
		return c, nil
	}
	start := time.Now()
	frozenNow.Store(true)
	phase("stopped the target's threads")
	thawed := false
	thaw := func() error {
		if thawed {
			return nil
		}
		thawed = true
		err := t.Thaw()
		frozenNow.Store(false)
		if opt.Kind != snapshot.KindLive {
			return err // nothing ran, so nothing was stopped
		}
		snap.Source.FreezeMicros = time.Since(start).Microseconds()
		if ft, ok := t.(dbg.FreezeTimer); ok && ft.LastFreeze() > 0 {
			snap.Source.FreezeMicros = ft.LastFreeze().Microseconds()
		}
		return err
	}
	defer func() {
		if terr := thaw(); terr != nil && err == nil {
			err = fmt.Errorf("let the target run again: %w", terr)
		}
	}()
	phase = tracer("frozen")
	if opt.HoldFreeze > 0 {
		time.Sleep(opt.HoldFreeze)
	}
	c = &copied{now: monotonicNow(opt), takenAt: time.Now().UTC()}
	addrs, err := rt.AllGs(t)
	if err != nil {
		return nil, err
	}
	phase("read allgs")
	addrs, raws, err := plan.read(t, addrs)
	if err != nil {
		return nil, err
	}
	phase("read %d g structs (%d MB)", len(addrs), plan.bytes()>>20)
	if opt.Stacks {
		var n int
		c.stacks, n = stacks.refresh(t, rt.Decode, addrs, raws, arena)
		phase("read %d stacks (%d changed since the warm copy)", len(c.stacks), n)
	}
	c.labels = map[uint64]map[string]string{}
	if err := readLabels(t, rt, addrs, raws, c.labels); err != nil {
		return nil, err
	}
	phase("read labels of %d goroutines", len(c.labels))
	if opt.Frozen != nil {
		opt.Frozen(addrs, raws)
	}
	expired := false
	if ex, ok := t.(dbg.Expirer); ok && ex.Expired() {
		expired = true
		c.partial = "the target stayed frozen past --max-freeze and was released early: this snapshot may mix states from before and after"
	}
	if err := thaw(); err != nil {
		return nil, fmt.Errorf("let the target run again: %w", err)
	}
	phase("thawed")
	if froze := time.Duration(snap.Source.FreezeMicros) * time.Microsecond; !expired && opt.MaxFreeze > 0 && froze > opt.MaxFreeze {
		c.partial = fmt.Sprintf("the target stayed frozen %v, past --max-freeze %v (the machine was too busy to release it in time)",
			froze.Round(time.Microsecond), opt.MaxFreeze)
	}
	c.addrs, c.raws, c.free, c.decoded = addrs, raws, plan.free, plan.giveBack(raws)
	return c, nil
}

// copyRunning reads t twice without stopping it and marks goroutines that changed between.
func copyRunning(t dbg.Target, rt *gstruct.Runtime, opt Options) (*copied, error) {
	c := &copied{now: monotonicNow(opt), takenAt: time.Now().UTC(), changed: map[uint64]bool{}}
	addrs, err := rt.AllGs(t)
	if err != nil {
		return nil, err
	}
	plan := planPacked(addrs, uint64(rt.GSize()), packedKeep(len(addrs), uint64(rt.GSize()), uint64(rt.DecodedBytes()), false))
	defer plan.free() // everything is decoded before this returns
	addrs, raws, err := plan.read(t, addrs)
	if err != nil {
		return nil, err
	}
	first := map[uint64]gstruct.G{}
	for _, g := range decodeAll(rt, addrs, raws) {
		first[g.Addr] = g
	}
	if addrs, err = rt.AllGs(t); err != nil {
		return nil, err
	}
	if addrs, raws, err = plan.read(t, addrs); err != nil {
		return nil, err
	}
	c.gs = decodeAll(rt, addrs, raws)
	for _, g := range c.gs {
		if before, ok := first[g.Addr]; !ok || !sameState(before, g) {
			c.changed[g.Addr] = true
		}
	}
	if opt.Stacks {
		c.stacks = readStacks(t, c.gs, nil)
	}
	c.labels = map[uint64]map[string]string{}
	if err := readLabels(t, rt, addrs, raws, c.labels); err != nil {
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

// Tracer is tracer for the other stages of a command (rendering, ...).
func Tracer(name string) func(format string, args ...any) { return tracer(name) }

// traceOut is where the tracers write; nil: tracing is off.
var traceOut atomic.Pointer[io.Writer]

// SetTrace has every tracer write to w from now on (nil: off, the default): how long each
// phase of a snapshot took, the way to see where a freeze went. gorigin's cli sets it
// from $GORIGIN_TRACE.
func SetTrace(w io.Writer) {
	if w == nil {
		traceOut.Store(nil)
		return
	}
	traceOut.Store(&w)
}

// tracer returns a function that prints, when tracing is on (SetTrace), how long each
// phase took since the previous one.
func tracer(name string) func(format string, args ...any) {
	out := traceOut.Load()
	if out == nil {
		return func(string, ...any) {}
	}
	last := time.Now()
	return func(format string, args ...any) {
		now := time.Now()
		mem := ""
		// Not while the target waits: reading /proc would lengthen the freeze the trace
		// times, and the copy's buffers were faulted in before it.
		if !strings.Contains(name, "frozen") && !frozenNow.Load() {
			mem = memNow()
		}
		fmt.Fprintf(*out, "gorigin: %s: %-28s %8.3f ms%s\n", name, fmt.Sprintf(format, args...), float64(now.Sub(last).Microseconds())/1000, mem)
		last = now
	}
}

// frozenNow is set while copyFrozen holds the target frozen (for the tracer).
var frozenNow atomic.Bool

// memNow says how much memory gorigin holds now and at most so far (VmRSS, VmHWM), for
// the trace: where in a run the peak comes from. "" where /proc does not say.
func memNow() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	var rss, hwm string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "VmRSS":
			rss = strings.TrimSpace(v)
		case "VmHWM":
			hwm = strings.TrimSpace(v)
		}
	}
	if rss == "" {
		return ""
	}
	return fmt.Sprintf("  (RSS %s, peak %s)", rss, hwm)
}

// unwindable reports whether the executable is one whose stacks unwind knows how to walk.
func unwindable(exe string) bool {
	f, err := elf.Open(exe)
	if err != nil {
		return false
	}
	defer f.Close()
	return f.Machine == elf.EM_X86_64
}

func exeName(t dbg.Target) string {
	if p, err := os.Readlink(t.Exe()); err == nil {
		return strings.TrimSuffix(p, " (deleted)")
	}
	return t.Exe()
}
