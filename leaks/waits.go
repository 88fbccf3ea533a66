package leaks

import (
	"fmt"
	"slices"
	"strings"
)

// sudog is the part of a runtime.sudog the analysis uses.
type sudog struct {
	addr, g, elem, c uint64
}

// maxSelectCases bounds a g.waiting chain (a select has at most 65536 cases).
const maxSelectCases = 1 << 16

// findWaits finds what each blocked goroutine waits on: the channels of the sudogs in its
// g.waiting list; for a semaphore or Cond, the address in its sudog's elem — found through
// g.waiting (Go 1.26+) or, in older runtimes, by looking for the sudog whose g is it among
// the heap objects of sudog size. A wait object found wrongly can only make a goroutine
// look live, never leaked: each sudog must name the goroutine as its g.
func (a *analysis) findWaits() error {
	if a.found == nil {
		found, err := a.readSudogs()
		if err != nil {
			return err
		}
		a.found = found
	}
	found := a.found
	need := map[uint64]*gor{}
	for _, g := range a.gs {
		switch g.kind {
		case "chan":
			for _, s := range found[g] {
				if s.c != 0 {
					g.waits = append(g.waits, waitRef{WaitObject: WaitObject{Kind: "chan", Addr: s.c}})
				}
			}
			if len(g.waits) == 0 && !(g.reason == "select" && g.waiting == 0) {
				g.unknown = "its g.waiting list names no channel"
			}
		case "sema", "cond":
			for _, s := range found[g] {
				if s.elem != 0 {
					g.waits = append(g.waits, waitRef{WaitObject: WaitObject{Kind: g.kind, Addr: s.elem}})
				}
			}
			if len(g.waits) == 0 {
				need[g.g.Addr] = g
			}
		}
	}
	if len(need) > 0 {
		if err := a.searchSudogs(need); err != nil {
			return err
		}
		for _, g := range need {
			if len(g.waits) == 0 {
				g.unknown = "gorigin found no sudog of it in the heap"
			}
		}
	}
	a.locate()
	return nil
}

// readSudogs follows each blocked goroutine's g.waiting list: its own sudogs.
func (a *analysis) readSudogs() (map[*gor][]sudog, error) {
	type cur struct {
		g    *gor
		addr uint64
	}
	var level []cur
	for _, g := range a.gs {
		if g.kind != "" && g.kind != "nil" && g.waiting != 0 {
			level = append(level, cur{g, g.waiting})
		}
	}
	found := map[*gor][]sudog{}
	for depth := 0; len(level) > 0 && depth < maxSelectCases; depth++ {
		items := make([]item, len(level))
		for i, c := range level {
			items[i] = item{c.addr, a.l.sudogSize}
		}
		var next []cur
		if _, err := readMany(a.m, items, func(i int, b []byte) {
			c := level[i]
			s := sudog{addr: c.addr, g: word(b, a.l.sudogG), elem: word(b, a.l.sudogElem), c: word(b, a.l.sudogC)}
			if s.g != c.g.g.Addr {
				return // not this goroutine's: stale
			}
			found[c.g] = append(found[c.g], s)
			c.g.sudogs = append(c.g.sudogs, c.addr)
			if wl := word(b, a.l.sudogWaitlink); wl != 0 && wl != c.addr {
				next = append(next, cur{c.g, wl})
			}
		}); err != nil {
			return nil, fmt.Errorf("read the goroutines' sudogs: %w", err)
		}
		level = next
	}
	return found, nil
}

// chanHeader is how much of a channel's hchan locate reads.
func (a *analysis) chanHeader() int {
	return max(a.l.elemsize16.off+a.l.elemsize16.size, a.l.elemtype.off+a.l.elemtype.size)
}

// searchSudogs looks through the heap objects of sudog size for the sudogs of the
// goroutines in need (by g address).
func (a *analysis) searchSudogs(need map[uint64]*gor) error {
	size := uint64(a.l.sudogSize)
	var items []item
	var sizes []uint64
	for _, s := range a.h.spans {
		if s.noscan || s.nelems < 2 || s.elemsize < size || s.elemsize >= 2*size {
			continue
		}
		per := max(1, maxRegion/s.elemsize)
		for j := uint64(0); j < s.nelems; j += per {
			n := min(per, s.nelems-j)
			items = append(items, item{s.base + j*s.elemsize, int(n * s.elemsize)})
			sizes = append(sizes, s.elemsize)
		}
	}
	failed, err := readMany(a.m, items, func(i int, b []byte) {
		es := sizes[i]
		for off := uint64(0); off+size <= uint64(len(b)); off += es {
			o := b[off : off+size]
			g, ok := need[word(o, a.l.sudogG)]
			if !ok {
				continue
			}
			addr := items[i].addr + off
			if _, _, _, alloc := a.h.find(addr); !alloc {
				continue
			}
			g.sudogs = append(g.sudogs, addr) // its own: not scanned, as those found through g.waiting
			if elem := word(o, a.l.sudogElem); elem != 0 {
				g.waits = append(g.waits, waitRef{WaitObject: WaitObject{Kind: g.kind, Addr: elem}})
			}
			if g.kind == "cond" {
				// Before Go 1.26 a Cond's waiter record has no elem: the record itself,
				// linked from the Cond's notifyList, is what must be reachable.
				g.waits = append(g.waits, waitRef{WaitObject: WaitObject{Kind: "cond", Addr: addr}})
			}
		}
	})
	if err != nil {
		return fmt.Errorf("search the heap for sudogs: %w", err)
	}
	a.k.failed += failed
	return nil
}

// locate says where each wait object lives; a goroutine whose wait object is nowhere
// gorigin knows becomes a root, with an Unknown verdict.
func (a *analysis) locate() {
	var chans []item
	var chanRefs []*waitRef
	for _, g := range a.gs {
		for i := range g.waits {
			w := &g.waits[i]
			if w.Kind != "chan" {
				w.Type = syncType(g.reason)
			}
			if obj, base, size, ok := a.h.find(w.Addr); ok {
				w.Where, w.obj = "heap", obj
				if w.Kind != "chan" {
					w.Object = fmt.Sprintf("+%d in a %d-byte heap object at %#x", w.Addr-base, size, base)
				}
				if w.Kind == "chan" && a.l.elemsize16.ok() {
					chans = append(chans, item{w.Addr, a.chanHeader()})
					chanRefs = append(chanRefs, w)
				}
				continue
			}
			if a.global(w.Addr) {
				w.Where = "global"
				if name, off, ok := a.rt.DataSymbol(w.Addr - a.bias); ok {
					w.Object = sanitize(name)
					if off > 0 {
						w.Object += fmt.Sprintf("+%d", off)
					}
				}
				continue
			}
			if i, ok := a.stackOf(w.Addr); ok {
				w.Where, w.owner = fmt.Sprintf("stack of goroutine %d", a.gs[i].g.ID), i
				continue
			}
			w.Where = "unknown"
			if g.unknown == "" {
				g.unknown = fmt.Sprintf("its %s is neither in the heap, a global nor a goroutine's stack", w.WaitObject)
			}
		}
		if g.unknown != "" && g.kind != "" {
			g.root = true
		}
	}
	// A channel of pointer-free elements is one noscan object the planned copy does not
	// hold: the freeze copies the header of every channel a goroutine waits on (collect).
	readMany(a.m, chans, func(i int, b []byte) {
		if w := chanRefs[i]; w.ElemSize == 0 && w.Type == "" {
			w.ElemSize = word(b, a.l.elemsize16)
			if a.types != nil && a.l.elemtype.ok() {
				if t := a.types.name(word(b, a.l.elemtype)); t != "" {
					w.Type = "chan " + t
				}
			}
		}
	})
}

// syncType names the type a goroutine waits on from its wait reason: "sync.Mutex" for
// "sync.Mutex.Lock", "semaphore" for a bare semacquire.
func syncType(reason string) string {
	if i := strings.LastIndexByte(reason, '.'); strings.HasPrefix(reason, "sync.") && i > 0 {
		return reason[:i]
	}
	if reason == "semacquire" {
		return "semaphore"
	}
	return ""
}

func (a *analysis) global(addr uint64) bool {
	for _, p := range a.l.writable {
		if addr >= p.Vaddr+a.bias && addr < p.Vaddr+p.Memsz+a.bias {
			return true
		}
	}
	return false
}

func (a *analysis) stackOf(addr uint64) (int, bool) {
	i, _ := slices.BinarySearchFunc(a.stacks, addr, func(s stackRange, x uint64) int {
		if s.lo <= x {
			return -1
		}
		return 1
	})
	if i--; i >= 0 && addr < a.stacks[i].hi {
		return a.stacks[i].g, true
	}
	return 0, false
}

// reachable says whether any of g's wait objects is reachable now.
func (a *analysis) reachable(g *gor) bool {
	for _, w := range g.waits {
		switch w.Where {
		case "heap":
			if a.h.mark.get(w.obj) {
				return true
			}
		case "global":
			return true
		default:
			if o := a.gs[w.owner]; o != g && (o.root || o.live) && w.Where != "unknown" {
				return true
			}
		}
	}
	return false
}

// result turns the analysis into verdicts.
func (a *analysis) result() *Result {
	res := &Result{Verdicts: make(map[int64]Verdict, len(a.gs)), Warnings: a.warn}
	incomplete := a.k.failed > 0
	if incomplete {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d memory read(s) failed while marking: no goroutine is called leaked", a.k.failed))
	}
	st := &res.Stats
	for _, g := range a.gs {
		v := Verdict{}
		for _, w := range g.waits {
			v.WaitOn = append(v.WaitOn, w.WaitObject)
		}
		switch {
		case g.kind == "" && g.g.Status == "waiting":
			v.Leak, v.Why = Unknown, fmt.Sprintf("it waits on %q, which the analysis does not model", g.reason)
		case g.kind == "":
			v.Leak, v.Why = Live, fmt.Sprintf("it can run (%s)", g.g.Status)
		case g.root:
			v.Leak, v.Why = Unknown, g.unknown
		case g.live:
			v.Leak, v.Why = Live, "what it waits on is reachable from a goroutine that can run, a global, a timer or a finalizer"
			for _, w := range g.waits {
				if w.Where == "heap" && a.h.mark.get(w.obj) && a.k.from != nil {
					v.Why += ": " + w.WaitObject.String() + " ← " + a.pathTo(w.obj)
					break
				}
			}
		case g.g.ID == 1 && g.reason == "select (no cases)":
			// The main goroutine parked for good while the rest of the program works: an
			// idiom, not a leak to fix.
			v.Leak, v.Why, v.ByDesign = Live, "main parked in select {} — by design", true
			st.ByDesign++
		case len(g.waits) == 0:
			v.Leak, v.Why = Leaked, fmt.Sprintf("it waits on %q with no channel: nothing can ever wake it", g.reason)
		default:
			v.Leak, v.Why = Leaked, "nothing that can run reaches what it waits on: no global, no stack of a goroutine that can run, no timer or finalizer, directly or through the heap"
		}
		if g.kind != "" {
			st.Candidates++
		}
		if v.Leak == Leaked && incomplete {
			v.Leak, v.Why = Unknown, "looks leaked, but part of the heap could not be read"
		}
		switch v.Leak {
		case Leaked:
			st.Leaked++
		case Live:
			st.LiveCount++
		default:
			st.NotSure++
		}
		res.Verdicts[g.g.ID] = v
	}
	st.Goroutines = len(a.gs)
	st.Spans = len(a.h.spans)
	st.Objects, st.Marked = a.h.count, a.k.marked
	st.HeapBytes, st.ScannedBytes = a.h.bytes, a.k.scanned
	st.PreciseBytes, st.ConservativeBytes = a.k.precise, a.k.conservative
	st.Rounds, st.Fixpoint = a.k.rounds, a.iters
	return res
}
