package leaks

import (
	"errors"
	"fmt"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/gstruct"
)

// Objects is what each blocked goroutine waits on, without the marking: the channels,
// mutexes, WaitGroups and Conds of gorigin attach --by object.
type Objects struct {
	// WaitOn is, by goroutine id, the objects a blocked goroutine waits on (a select:
	// several channels); goroutines not blocked on one are absent.
	WaitOn map[int64][]WaitObject
	// ReachedFrom says, by wait object address, what holds a pointer to the object
	// directly: "the global main.queue", "the stack of goroutine 7". Absent: gorigin
	// found no global or stack that holds it (only the marking of gorigin leaks says
	// whether anything reaches it through the heap).
	ReachedFrom map[uint64]string
	Warnings    []string
}

// ObjectReader finds what blocked goroutines wait on. For a live target, pass Frozen
// to capture.Take (capture.Options.Frozen): with the g structs capture read, it copies
// the sudogs of every blocked goroutine and the executable's writable globals before the
// thaw, so that the objects come from the snapshot's moment at the cost of a few small
// reads in the freeze; Finish decodes, names and locates them after the thaw. For a
// core, call Finish alone.
type ObjectReader struct {
	t       dbg.Target
	a       *analysis
	read    bool    // Frozen ran
	globals []chunk // .data and .bss as they were frozen
	copied  []chunk // the sudogs as they were frozen
	briefs  []brief // the goroutines as they were frozen
	// level and owner are Frozen's first sudogs to read and their goroutines.
	level []item
	owner []uint64
	err   error
	// arena holds the frozen copy, scratch the sudogs' reads: allocated (and touched)
	// while the target runs.
	arena, scratch []byte
}

// BeginObjects reads t's layouts while it runs.
func BeginObjects(t dbg.Target, opt Options) (*ObjectReader, error) {
	rt, err := gstruct.OpenWith(t.Exe(), gstruct.OpenOptions{DebugFile: opt.DebugFile})
	if err != nil {
		return nil, err
	}
	l, err := readLayout(t.Exe(), rt)
	if err != nil {
		return nil, err
	}
	maps, err := t.Mappings()
	if err != nil {
		return nil, err
	}
	if err := rt.Bind(t, maps, t.Exe()); err != nil {
		return nil, err
	}
	a := &analysis{t: t, m: t, l: l, rt: rt, maps: maps, bias: rt.LoadBias(),
		progress: func(string, int, int) {}, types: newTypeNamer(t.Exe(), l, rt.LoadBias())}
	o := &ObjectReader{t: t, a: a}
	var globals uint64
	for _, r := range a.globals() {
		globals += r[1] - r[0]
	}
	if addrs, err := rt.AllGs(t); err == nil {
		// Room for a sudog each of as many goroutines as now and an eighth more, and the
		// globals; beyond maxArena, the copy allocates in the freeze.
		n := len(addrs) + len(addrs)/8 + 64
		o.arena = make([]byte, min(uint64(2*n*l.sudogSize)+globals, maxArena)) // 2×: the gaps read between sudogs
		o.scratch = make([]byte, min(n*l.sudogSize*2, maxBatch))
		o.briefs = make([]brief, n)
		o.level, o.owner = make([]item, 0, n), make([]uint64, 0, n)
		for i := range o.briefs {
			o.briefs[i].addr = 1 // fault its pages in now
		}
		for _, b := range [][]byte{o.arena, o.scratch} {
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1 // fault its pages in now, not in the freeze
			}
		}
	}
	return o, nil
}

// maxArena bounds the buffer BeginObjects prepares for the frozen copy (for a million
// goroutines: 200 MB).
const maxArena = 256 << 20

// Frozen keeps, while the target is frozen, a glance at each g struct capture read
// (addrs, raws: its id, status, wait reason number, stack bounds and g.waiting), and
// copies the sudogs of each goroutine's g.waiting list (a select's are linked by
// waitlink) and the globals. It names nothing: the freeze grows by the reads alone.
func (o *ObjectReader) Frozen(addrs []uint64, raws [][]byte) {
	o.read = true
	a := o.a
	phase := capture.Tracer("objects (frozen)")
	rec := &recorder{m: o.t, arena: o.arena}
	o.arena = nil
	level, owner := o.level, o.owner // owner: the g each sudog of level must name
	o.level, o.owner = nil, nil
	if len(o.briefs) < len(raws) {
		o.briefs = make([]brief, len(raws))
	}
	o.briefs = o.briefs[:len(raws)]
	for i, raw := range raws {
		w := word(raw, a.l.gWaiting)
		o.briefs[i] = brief{addr: addrs[i], gl: a.rt.Glance(raw), waiting: w}
		if st := uint64(o.briefs[i].gl.StatusCode); w != 0 && (st == a.l.gwaiting || (a.l.hasGLeaked && st == a.l.gleaked)) {
			level, owner = append(level, item{w, a.l.sudogSize}), append(owner, addrs[i])
		}
	}
	phase("glanced at %d g structs", len(addrs))
	// A sudog whose g is another goroutine's (a semaphore's waitlink, or a stale one)
	// ends the list.
	n := len(level)
	scratch := o.scratch
	for depth := 0; len(level) > 0 && depth < maxSelectCases; depth++ {
		var next []item
		var nextOwner []uint64
		if _, err := readManyInto(rec, level, &scratch, func(i int, b []byte) {
			wl := word(b, a.l.sudogWaitlink)
			if word(b, a.l.sudogG) == owner[i] && wl != 0 && wl != level[i].addr {
				next, nextOwner = append(next, item{wl, a.l.sudogSize}), append(nextOwner, owner[i])
			}
		}); err != nil {
			o.err = fmt.Errorf("read the goroutines' sudogs: %w", err)
			return
		}
		level, owner = next, nextOwner
		n += len(next)
	}
	phase("copied %d sudogs", n)
	o.globals = readGlobals(o.t, a.globals(), rec.arena)
	phase("copied the globals")
	o.copied = rec.got
}

// readGlobals reads the ranges of .data and .bss into buf (allocating where it is too
// small); ranges that cannot be read are left out.
func readGlobals(m dbg.Memory, ranges [][2]uint64, buf []byte) []chunk {
	var out []chunk
	for _, r := range ranges {
		for lo := r[0]; lo < r[1]; lo += maxRegion {
			n := int(min(r[1]-lo, maxRegion))
			var b []byte
			if n <= len(buf) {
				b, buf = buf[:n:n], buf[n:]
			} else {
				b = make([]byte, n)
			}
			if err := m.ReadBatch([]dbg.Region{{Addr: lo, Buf: b}}); err == nil {
				out = append(out, chunk{lo, b})
			}
		}
	}
	return out
}

// brief is what Frozen keeps of a g struct.
type brief struct {
	addr, waiting uint64
	gl            gstruct.Glance
}

// goroutines are the analysis' goroutines from what Frozen kept, as readGoroutines
// makes them from whole g structs.
func (o *ObjectReader) goroutines() {
	a := o.a
	for _, b := range o.briefs {
		status, reason := a.rt.Named(b.gl)
		if status == "dead" || status == "idle" {
			continue
		}
		g := gstruct.G{Addr: b.addr, ID: b.gl.ID, StatusCode: b.gl.StatusCode, Status: status, WaitReason: reason, StackLo: b.gl.StackLo, StackHi: b.gl.StackHi}
		gr := &gor{g: g, reason: reason, waiting: b.waiting}
		if status == "waiting" || status == "leaked" {
			gr.kind = modelled[reason]
		}
		gr.root = gr.kind == ""
		a.gs = append(a.gs, gr)
	}
	o.briefs = nil
	a.indexStacks()
}

// recorder is a dbg.Memory that keeps a copy of every region it reads, in arena while
// it has room (allocated and touched before the freeze) and in new memory after.
type recorder struct {
	m     dbg.Memory
	arena []byte
	got   []chunk
}

func (r *recorder) ReadBatch(regions []dbg.Region) error {
	err := r.m.ReadBatch(regions)
	bad := map[int]bool{}
	var re *dbg.ReadError
	if errors.As(err, &re) {
		for _, i := range re.Failed {
			bad[i] = true
		}
	} else if err != nil {
		return err
	}
	for i, reg := range regions {
		if !bad[i] {
			r.keep(reg.Addr, reg.Buf)
		}
	}
	return err
}

// keep copies b, read at addr.
func (r *recorder) keep(addr uint64, b []byte) {
	var c []byte
	if n := len(b); n <= len(r.arena) {
		c, r.arena = r.arena[:n:n], r.arena[n:]
		copy(c, b)
	} else {
		c = append([]byte(nil), b...)
	}
	r.got = append(r.got, chunk{addr, c})
}

// replay serves reads from what was copied while the target was frozen, and what was
// not copied from the target as it is now.
type replay struct {
	copy *image // extras only, live nil
	live dbg.Memory
}

func (r *replay) ReadBatch(regions []dbg.Region) error {
	var miss []dbg.Region
	var at []int
	for i, reg := range regions {
		if !r.copy.fill(reg.Addr, reg.Buf) {
			miss, at = append(miss, reg), append(at, i)
		}
	}
	if len(miss) == 0 {
		return nil
	}
	err := r.live.ReadBatch(miss)
	var re *dbg.ReadError
	if errors.As(err, &re) {
		failed := make([]int, len(re.Failed))
		for j, k := range re.Failed {
			failed[j] = at[k]
		}
		return &dbg.ReadError{Failed: failed, Err: re.Err}
	}
	return err
}

// Finish finds each blocked goroutine's wait objects, their types and what holds them:
// from what Frozen copied, or for a core (Frozen not called) from the core.
func (o *ObjectReader) Finish() (*Objects, error) {
	a := o.a
	defer a.types.close()
	if o.err != nil {
		return nil, fmt.Errorf("read what the goroutines wait on: %w", o.err)
	}
	if o.read {
		im := &image{}
		im.addExtras(o.copied)
		o.copied = nil
		a.m = &replay{copy: im, live: o.t}
		o.goroutines()
	} else {
		o.globals = readGlobals(o.t, a.globals(), nil)
		if err := a.readGoroutines(); err != nil {
			return nil, fmt.Errorf("read what the goroutines wait on: %w", err)
		}
	}
	found, err := a.readSudogs()
	if err != nil {
		return nil, fmt.Errorf("read what the goroutines wait on: %w", err)
	}
	a.found = found
	out := &Objects{WaitOn: map[int64][]WaitObject{}, ReachedFrom: map[uint64]string{}}
	h, err := readHeap(a.m, a.l, a.bias)
	if err != nil {
		// Channels and semaphores found through g.waiting need no heap; only where
		// they live and, before Go 1.26, a semaphore's sudog do.
		out.Warnings = append(out.Warnings, fmt.Sprintf("the heap's spans could not be read (%v): where each object lives is unknown", err))
		h = &heap{}
	}
	a.h, a.k = h, &marker{h: h} // the marker only counts failed reads here
	if err := a.findWaits(); err != nil {
		return nil, err
	}
	holders := map[uint64][2]uint64{} // a heap object's base and end, by wait address
	for _, g := range a.gs {
		for _, w := range g.waits {
			out.WaitOn[g.g.ID] = append(out.WaitOn[g.g.ID], w.WaitObject)
			switch {
			case w.Where == "global" && w.Object != "":
				out.ReachedFrom[w.Addr] = "the global " + w.Object
			case w.Where == "heap":
				if _, base, size, ok := h.find(w.Addr); ok {
					holders[w.Addr] = [2]uint64{base, base + size}
				}
			case w.Where == "global":
				// A variable the symbol table does not name: the static object of
				// "var p = &T{}". Its holder is the global pointing closest below it.
				holders[w.Addr] = [2]uint64{w.Addr - min(w.Addr, maxStaticObject), w.Addr + 1}
			case w.Where != "unknown" && w.Where != "global" && w.Where != "":
				out.ReachedFrom[w.Addr] = "the " + w.Where
			}
		}
	}
	o.globalHolders(holders, out.ReachedFrom)
	return out, nil
}

// maxStaticObject bounds how far below an unnamed global wait object the pointer to
// its static object may point.
const maxStaticObject = 1 << 10

// globalHolders names, for each wait object in holders (by wait address: the bounds of
// the heap object holding it, or for an unnamed global the bytes up to it), the global
// that points into those bounds — for an unnamed global the one pointing closest below
// it — from the words of .data and .bss as they were frozen.
func (o *ObjectReader) globalHolders(holders map[uint64][2]uint64, names map[uint64]string) {
	heapBase := map[uint64][]uint64{} // heap object base → wait addresses
	var statics []uint64              // unnamed global wait addresses
	best := map[uint64]uint64{}       // unnamed global wait address → closest pointer
	where := map[uint64]uint64{}      // ... and where that pointer is
	h := o.a.h
	for addr, r := range holders {
		if r[1] == addr+1 {
			statics = append(statics, addr)
		} else {
			heapBase[r[0]] = append(heapBase[r[0]], addr)
		}
	}
	for _, c := range o.globals {
		for off := 0; off+8 <= len(c.b); off += 8 {
			p := word(c.b[off:], field{0, 8})
			at := c.addr + uint64(off)
			if p >= h.lo && p < h.hi {
				if _, base, _, ok := h.find(p); ok && heapBase[base] != nil {
					if name, _, ok := o.a.rt.DataSymbol(at - o.a.bias); ok {
						for _, addr := range heapBase[base] {
							names[addr] = "the global " + sanitize(name)
						}
						delete(heapBase, base)
					}
				}
				continue
			}
			for _, addr := range statics {
				if p <= addr && addr-p < maxStaticObject && p > best[addr] && at != addr {
					best[addr], where[addr] = p, at
				}
			}
		}
	}
	for _, addr := range statics {
		if at, ok := where[addr]; ok {
			if name, _, ok := o.a.rt.DataSymbol(at - o.a.bias); ok {
				names[addr] = "the global " + sanitize(name)
			}
		}
	}
}
