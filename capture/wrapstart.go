package capture

import (
	"github.com/gorigin-dev/gorigin/addr2line"
	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/gstruct"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// A go statement's wrapper that calls its function through a func value or an interface
// method (`go f(x)` with f a variable or a closure that captures variables, `go
// iface.M(x)`) does not say in its code which function it calls; the goroutine's stack
// does: the frame above the wrapper's is the callee's. The runtime's tracebacks show that
// frame (hiding the wrapper), and so does gorigin. Only such goroutines have their stacks
// read, after the thaw: the callee of a goroutine never changes once it is called, so
// reading it later costs the target no freeze and gives the same answer. A goroutine that
// has not called its function yet, or whose stack cannot be read consistently, keeps the
// wrapper's name.

// viaStack is a goroutine whose start function only its stack can tell.
type viaStack struct {
	index   int    // in the snapshot's goroutines
	addr    uint64 // its g
	id      int64
	startPC uint64
}

// startsFromStacks names the start functions of the goroutines in pending from their stacks,
// read from m now (after the thaw, or from a core).
func startsFromStacks(m dbg.Memory, rt *gstruct.Runtime, syms *addr2line.Table, snap *snapshot.Snapshot, pending []viaStack) {
	if len(pending) == 0 {
		return
	}
	bias := rt.LoadBias()
	size := int(rt.GSize())
	readGs := func() ([]dbg.Region, map[int]bool) {
		regions := make([]dbg.Region, len(pending))
		for i, p := range pending {
			regions[i] = dbg.Region{Addr: p.addr, Buf: make([]byte, size)}
		}
		failed, err := readAll(m, regions)
		if err != nil {
			return nil, nil
		}
		return regions, failed
	}
	first, failed := readGs()
	if first == nil {
		return
	}
	// The goroutines still alive that have called their function: read their stacks.
	var gs []gstruct.G
	var which []int // index in pending of each of gs
	for i, p := range pending {
		if failed[i] {
			continue
		}
		g := rt.Decode(p.addr, first[i].Buf)
		if g.ID != p.id || g.StartPC != p.startPC || g.SchedPC == g.StartPC {
			continue
		}
		gs, which = append(gs, g), append(which, i)
	}
	stacks := readStacks(m, gs, nil)
	// A goroutine that ran while its stack was read may have moved or changed it: keep
	// only those whose stack and saved registers are the same after the read as before.
	again, failedAgain := readGs()
	if again == nil {
		return
	}
	for k, g := range gs {
		i := which[k]
		stack, ok := stacks[g.Addr]
		if !ok || failedAgain[i] || !sameStack(g, rt.Decode(g.Addr, again[i].Buf)) {
			continue
		}
		if loc, ok := calledByWrapper(syms, bias, g, stack); ok {
			loc.PC = hex(pending[i].startPC)
			snap.Goroutines[pending[i].index].Start = loc
		}
	}
}

// calledByWrapper is the function the goroutine's go statement wrapper (its start
// function) called, as the runtime's traceback shows it: the outermost frame above the
// wrapper's that is not itself a wrapper (a method value's or an interface method's).
func calledByWrapper(syms *addr2line.Table, bias uint64, g gstruct.G, stack []byte) (*snapshot.Location, bool) {
	pcs, complete := callers(syms, bias, g, stack)
	n := len(pcs)
	if !complete || n < 2 {
		return nil, false
	}
	if _, entry, ok := syms.Func(pcs[n-1] - bias - 1); !ok || entry != g.StartPC-bias {
		return nil, false // the bottom frame is not the wrapper's: not a stack to trust
	}
	for i := n - 2; i >= 0; i-- {
		frames, _ := syms.Lookup(pcs[i] - bias - 1)
		for j := len(frames) - 1; j >= 0; j-- {
			f := frames[j]
			if f.Wrapper {
				continue
			}
			loc := &snapshot.Location{Func: f.Func, File: f.File, Line: f.Line}
			if !f.Inlined {
				// Where the function starts, as for a start function told from code.
				if at, ok := syms.Lookup(f.Entry); ok {
					loc.File, loc.Line = at[len(at)-1].File, at[len(at)-1].Line
				}
			}
			return loc, true
		}
	}
	return nil, false
}

// sameStack says whether two reads of a g show the same goroutine stopped at the same place
// in the same stack.
func sameStack(a, b gstruct.G) bool {
	return a.ID == b.ID && a.StatusCode == b.StatusCode && a.SchedPC == b.SchedPC && a.SchedSP == b.SchedSP &&
		a.StackLo == b.StackLo && a.StackHi == b.StackHi
}
