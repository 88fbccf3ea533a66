package leaks

import "github.com/gorigin-dev/gorigin/capture"

// collect runs while the target is frozen, after the planned copy was taken again: it
// reads only what decides what else the copy must hold, and copies that, so that the
// freeze lasts as long as the copy and no longer. Decoding the heap (allocation bits into
// objects, pointer maps), finding the wait objects and queueing the roots come after the
// thaw, on the copy (prepare): every read they make was made here first, through im,
// which keeps what it read from the target while it was frozen.
func (a *analysis) collect(im *image) error {
	phase := capture.Tracer("leaks (frozen)")
	if err := a.readGoroutines(); err != nil {
		return err
	}
	a.threads, a.threadsErr = a.t.Threads()
	phase("read %d goroutines, %d threads", len(a.gs), len(a.threads))
	t, err := readSpans(a.m, a.l, a.bias, a.scratch)
	if err != nil {
		return err
	}
	phase("read %d spans", len(t.spans))
	// What the marking reads: every span that can hold pointers, every goroutine's stack
	// (a blocked one is scanned once what it waits on is reachable), the threads' stacks;
	// and what prepare reads: allocation bits and pointer maps.
	need := make([]item, 0, 3*len(t.spans)+len(a.gs)+len(a.threads))
	add := func(lo, hi uint64) {
		for ; lo < hi; lo += maxRegion {
			need = append(need, item{lo, int(min(hi-lo, maxRegion))})
		}
	}
	for _, sp := range t.spans {
		if !sp.noscan {
			add(sp.base, sp.base+sp.nelems*sp.elemsize)
		}
	}
	for _, g := range a.gs {
		lo, hi := g.g.StackLo, g.g.StackHi
		if g.g.Status != "running" && g.g.Status != "syscall" && g.g.SchedSP > lo && g.g.SchedSP < hi {
			lo = g.g.SchedSP
		}
		if hi > lo && hi-lo <= 1<<30 {
			add(lo, hi)
		}
	}
	if a.threadsErr == nil {
		sys := a.systemStacks()
		for _, th := range a.threads {
			if lo, hi, _ := a.threadStackRange(th, sys); hi > lo && hi-lo <= 1<<30 {
				add(lo, hi)
			}
		}
	}
	for i := range t.spans {
		need = append(need, t.spans[i].allocItem())
	}
	for _, b := range a.pointerBitsAt(im, t.spans) {
		need = append(need, item{b.addr, b.n})
	}
	// Unreadable memory stays out of the copy: marking counts the reads that fail there,
	// and then calls nothing leaked.
	n, err := im.ensure(need)
	if err != nil {
		return err
	}
	phase("copied %d KB more", n>>10)
	// Read as prepare will read them: the P structs, special records, finalizer and
	// cleanup queues, sudogs and the headers of the channels waited on (noscan objects:
	// not planned).
	a.allPs()
	a.walkSpecials(t.spans, func(*span, uint64, []byte) {})
	a.walkBlocks(a.l.finalizerQueue, func(uint64, []byte) {})
	a.walkBlocks(a.l.cleanupQueue, func(uint64, []byte) {})
	found, err := a.readSudogs()
	if err != nil {
		return err
	}
	a.found = found
	var chans []item
	for g, ss := range found {
		if g.kind == "chan" {
			for _, s := range ss {
				if s.c != 0 {
					chans = append(chans, item{s.c, a.chanHeader()})
				}
			}
		}
	}
	if _, err := im.ensure(chans); err != nil {
		return err
	}
	phase("read the queues, sudogs and channels")
	return nil
}
