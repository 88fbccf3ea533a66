package capture

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/gorigin-dev/gorigin/addr2line"
	"github.com/gorigin-dev/gorigin/gstruct"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// maxFrames bounds one goroutine's unwound stack.
const maxFrames = 512

// build turns the copied g structs into the snapshot's goroutines. It runs after the target
// was thawed: symbolising is the slow part and costs the target nothing here.
// It returns the goroutines whose start function only their stacks can tell, when their
// stacks were not copied (see startsFromStacks).
func build(snap *snapshot.Snapshot, rt *gstruct.Runtime, syms *addr2line.Table, c *copied, opt Options) []viaStack {
	var pending []viaStack
	bias := rt.LoadBias()
	origins := map[uint64]*snapshot.Location{}
	starts := map[uint64]startFunc{}
	n := c.count()
	snap.Goroutines = make([]snapshot.Goroutine, 0, n)
	for i := 0; i < n; i++ {
		if i%1024 == 0 {
			opt.progress("symbolising goroutines", i, n)
		}
		g := c.g(rt, i)
		c.done(i)
		if g.Status == "dead" || g.Status == "idle" {
			continue
		}
		out := snapshot.Goroutine{
			ID:             g.ID,
			ParentID:       g.ParentID,
			Status:         snapshot.Status(g.Status),
			WaitReason:     g.WaitReason,
			StackBytes:     int64(g.StackHi - g.StackLo),
			Labels:         g.Labels,
			LockedToThread: g.LockedM,
			Changed:        c.changed[g.Addr],
		}
		parked := g.Status == "waiting" || g.Status == "leaked" // a leaked one keeps its reason, as in the runtime's traceback
		if !parked {
			out.WaitReason = ""
		}
		if g.WaitSince > 0 && c.now > g.WaitSince && (parked || g.Status == "syscall") {
			out.WaitSeconds = float64(c.now-g.WaitSince) / 1e9
		}
		if g.GoPC != 0 && g.ID != 1 { // goroutine 1 is made by the runtime's bootstrap, not a go statement
			loc, ok := origins[g.GoPC]
			if !ok {
				loc = origin(syms, g.GoPC-bias)
				origins[g.GoPC] = loc
			}
			out.Origin = loc
		}
		if g.StartPC != 0 {
			st, ok := starts[g.StartPC]
			if !ok {
				st = start(syms, g.StartPC-bias)
				starts[g.StartPC] = st
			}
			out.Start = st.loc
			out.System = isSystem(st.physical)
		}
		if opt.Stacks {
			out.Frames = unwind(syms, bias, g, c.stacks[g.Addr])
		}
		if g.StartPC != 0 && starts[g.StartPC].viaStack {
			if loc, ok := calledByWrapper(syms, bias, g, c.stacks[g.Addr]); ok {
				loc.PC = out.Start.PC
				out.Start = loc
			} else {
				pending = append(pending, viaStack{index: len(snap.Goroutines), addr: g.Addr, id: g.ID, startPC: g.StartPC})
			}
		}
		snap.Goroutines = append(snap.Goroutines, out)
	}
	opt.progress("symbolising goroutines", n, n)
	if opt.Stacks {
		snap.Warnings = append(snap.Warnings, stackWarnings(snap.Goroutines)...)
	}
	return pending
}

// origin symbolises a go statement. The runtime looks the creating PC up at gopc-1 (gopc is
// the return address of the call to newproc); the innermost inlined frame is the function
// that contains the go statement.
func origin(syms *addr2line.Table, gopc uint64) *snapshot.Location {
	frames, ok := syms.Lookup(gopc - 1)
	if !ok || len(frames) == 0 {
		return &snapshot.Location{Func: "?", PC: hex(gopc)}
	}
	f := frames[0]
	return &snapshot.Location{Func: f.Func, File: f.File, Line: f.Line, PC: hex(gopc)}
}

// startFunc is a goroutine's start function: the one it shows (a go statement wrapper
// seen through, so `go s.worker(i)` starts in (*server).worker, not in caller.gowrap1) and
// the physical one at startpc, which the runtime's system-goroutine rule looks at.
// viaStack says that startpc is a wrapper whose callee only each goroutine's stack tells.
type startFunc struct {
	loc      *snapshot.Location
	physical string
	viaStack bool
}

// start symbolises a goroutine's start function (startpc is its entry).
func start(syms *addr2line.Table, pc uint64) startFunc {
	frames, ok := syms.Lookup(pc)
	if !ok || len(frames) == 0 {
		return startFunc{loc: &snapshot.Location{Func: "?", PC: hex(pc)}}
	}
	f := frames[len(frames)-1]
	st := startFunc{loc: &snapshot.Location{Func: f.Func, File: f.File, Line: f.Line, PC: hex(pc)}, physical: f.Func}
	if w, ok := syms.Wrapped(pc); ok {
		st.loc = &snapshot.Location{Func: w.Func, File: w.File, Line: w.Line, PC: hex(pc)}
	} else {
		st.viaStack = syms.GoWrapper(pc)
	}
	return st
}

// isSystem is the runtime's own rule (runtime.isSystemGoroutine): a goroutine that started
// in package runtime is a system goroutine, except runtime.main and the goroutines that run
// user code (the finalizer and cleanup goroutines count as system while idle; a copy cannot
// tell, so they count as system).
func isSystem(startFunc string) bool {
	switch startFunc {
	case "runtime.main", "runtime.corostart", "runtime.handleAsyncEvent":
		return false
	}
	return strings.HasPrefix(startFunc, "runtime.")
}

// unwind walks the stack of a goroutine that is not running, from its saved registers
// (g.sched), through the copied stack. Frames are innermost first, inlined calls expanded;
// compiler-made wrappers and runtime.goexit, the bottom of every goroutine, are left out.
func unwind(syms *addr2line.Table, bias uint64, g gstruct.G, stack []byte) []snapshot.Location {
	var out []snapshot.Location
	pcs, _ := callers(syms, bias, g, stack)
	for _, pc := range pcs {
		frames, _ := syms.Lookup(pc - bias - 1)
		for _, f := range frames {
			if !f.Wrapper { // hidden, as the runtime's tracebacks hide them
				out = append(out, snapshot.Location{Func: f.Func, File: f.File, Line: f.Line, PC: hex(pc), Inlined: f.Inlined})
			}
		}
	}
	return out
}

// callers returns the PCs of a goroutine's physical frames, innermost first, the way the
// runtime's own unwinder finds them: each function's frame size at a PC comes from the
// pclntab's pcsp table, and the return address sits just below the caller's stack pointer
// (amd64). complete says the walk got to runtime.goexit, the bottom of every goroutine,
// which is left out.
func callers(syms *addr2line.Table, bias uint64, g gstruct.G, stack []byte) (pcs []uint64, complete bool) {
	if g.Status == "running" || len(stack) == 0 {
		return nil, false
	}
	lo, hi := g.SchedSP, g.SchedSP+uint64(len(stack))
	word := func(addr uint64) (uint64, bool) {
		if addr < lo || addr+8 > hi {
			return 0, false
		}
		return binary.LittleEndian.Uint64(stack[addr-lo:]), true
	}
	pc, sp := g.SchedPC, g.SchedSP
	for i := 0; i < maxFrames && pc > bias; i++ {
		name, _, ok := syms.Func(pc - bias - 1)
		if !ok {
			break
		}
		if name == "runtime.goexit" {
			return pcs, true
		}
		pcs = append(pcs, pc)
		delta, ok := syms.SPDelta(pc - bias)
		if !ok {
			break
		}
		fp := sp + uint64(delta) + 8 // the CALL pushed the return address
		ret, ok := word(fp - 8)
		if !ok {
			break
		}
		pc, sp = ret, fp
	}
	return pcs, false
}

// noStackWarning ends the warning about running goroutines without a stack.
const noStackWarning = " running goroutine(s) have no stack: their registers are in a thread, not in g.sched"

func stackWarnings(gs []snapshot.Goroutine) []string {
	running := 0
	for _, g := range gs {
		if g.Status == "running" {
			running++
		}
	}
	if running == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%d%s", running, noStackWarning)}
}

// RecountStackWarning returns warnings with the warning about running goroutines
// without a stack (when there is one) counting only gs: the goroutines a report shows
// after --match, --exclude and the hiding of system goroutines.
func RecountStackWarning(warnings []string, gs []snapshot.Goroutine) []string {
	var out []string
	had := false
	for _, w := range warnings {
		if strings.HasSuffix(w, noStackWarning) {
			had = true
			continue
		}
		out = append(out, w)
	}
	if !had {
		return warnings
	}
	return append(out, stackWarnings(gs)...)
}

func hex(pc uint64) string { return fmt.Sprintf("%#x", pc) }
