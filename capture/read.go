package capture

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/gstruct"
)

// The g structs live in heap spans of one size class, many to a span, so sorting their
// addresses and reading runs of neighbours as one region copies them with a few large reads
// instead of one small read per g.
const (
	mergeGap    = 16 << 10 // read across a gap up to this size rather than start a new region
	maxRegion   = 4 << 20  // but keep each region at most this large
	maxStack    = 1 << 20  // copy at most this much of one goroutine's stack
	maxStackAll = 1 << 30  // and at most this much in all
	pageSize    = 4096
)

// gCopy is a plan for copying every g struct: the regions to read and buffers for them.
// It is made, and its buffers touched, before the target is frozen, so that the copy made
// while it is frozen spends no time allocating, faulting in gorigin's own memory or
// looking things up — for 100,000 goroutines that was most of the freeze. g structs are
// never freed and allgs only grows, so a plan made from an earlier look stays right; g's
// created since are read one by one.
type gCopy struct {
	size    uint64
	runs    []span
	regions []dbg.Region
	addrs   []uint64 // the g's the plan was made for, in allgs order
	raws    [][]byte // each one's bytes within the regions' buffers
	// free gives the regions' buffer back (see allocBuf): after it, neither the plan nor
	// any raw bytes read through it may be used.
	free func()
	buf  []byte           // the regions' buffer
	drop func(lo, hi int) // gives back part of buf (see allocBuf); nil: it cannot

	// A packed plan (planPacked) keeps only the first keep bytes of each g: regions have
	// no buffers of their own, they are read a few at a time into a small staging buffer
	// per worker, and the kept bytes of each g copied from there into buf.
	keep   uint64
	first  []int          // packed: the g's of regions[r] are slots first[r]..first[r+1]-1 of buf
	offs   []uint32       // packed: each slot's g's offset in its region
	stages [][]byte       // packed: one staging buffer per worker
	read1  [][]dbg.Region // packed: each worker's batch of regions in its staging buffer
}

type span struct{ lo, hi uint64 }

func planCopy(addrs []uint64, size uint64) *gCopy {
	sorted := slices.Clone(addrs)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	c := &gCopy{size: size, addrs: addrs, keep: size}
	total := uint64(0)
	for _, a := range sorted {
		if n := len(c.runs); n > 0 && a <= c.runs[n-1].hi+mergeGap && a+size-c.runs[n-1].lo <= maxRegion {
			total += max(c.runs[n-1].hi, a+size) - c.runs[n-1].hi
			c.runs[n-1].hi = max(c.runs[n-1].hi, a+size)
			continue
		}
		c.runs = append(c.runs, span{a, a + size})
		total += size
	}
	buf := c.allocate(int(total))
	for i, r := range c.runs {
		n := r.hi - r.lo
		c.regions[i] = dbg.Region{Addr: r.lo, Buf: buf[:n:n]}
		buf = buf[n:]
	}
	c.raws = make([][]byte, len(addrs), len(addrs)+len(addrs)/8+64)
	for i, a := range addrs {
		r := c.find(a)
		off := a - c.regions[r].Addr
		c.raws[i] = c.regions[r].Buf[off : off+size : off+size]
	}
	return c
}

// allocate gives the plan its buffer of n bytes, every page faulted in now rather than
// while the target waits, and one region per run (the caller fills them in).
func (c *gCopy) allocate(n int) []byte {
	buf, free, drop := allocBuf(n)
	c.free, c.buf, c.drop = free, buf, drop
	adviseHugePages(buf)
	for i := 0; i < len(buf); i += pageSize {
		buf[i] = 1
	}
	c.regions = make([]dbg.Region, len(c.runs))
	return buf
}

// Packing: a copy of whole g structs is what the freeze reads fastest (whole runs of
// spans, one iovec each), but at 1,000,000 goroutines it is 460 MB, alone nearly the
// 500 MB that gorigin may use there. From packFrom bytes of g's on, the plan keeps only
// the bytes of each g that gstruct decodes (Go 1.26: 360 of 456, in 480-byte slots: 75%
// of the copy), read through a staging buffer per worker. That costs freeze time (the
// kept bytes are copied once more: the read alone measured +16–30% at 100,000 goroutines;
// the whole freeze at 1,000,000 grew 1–4 ms, of 65), so below packFrom — 100,000
// goroutines are 46 MB — the copy stays whole.
const stageBytes = 256 << 10 // a packed plan's runs are at most this long

var packFrom uint64 = 256 << 20 // a variable for tests

// packedKeep is how much of each of n g's of size bytes a plan should keep: size (a
// whole copy) below packFrom or when the caller reads more than gstruct decodes.
func packedKeep(n int, size, decoded uint64, whole bool) uint64 {
	if whole || decoded == 0 || decoded >= size || uint64(n)*size < packFrom {
		return size
	}
	return decoded
}

// planPacked plans a copy of the first keep bytes of each g at addrs (see packFrom);
// with keep >= size it is planCopy.
func planPacked(addrs []uint64, size, keep uint64) *gCopy {
	if keep >= size {
		return planCopy(addrs, size)
	}
	sorted := slices.Clone(addrs)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	c := &gCopy{size: size, addrs: addrs, keep: keep}
	c.offs = make([]uint32, len(sorted))
	for k, a := range sorted {
		if n := len(c.runs); n > 0 && a <= c.runs[n-1].hi+mergeGap && a+size-c.runs[n-1].lo <= stageBytes {
			c.runs[n-1].hi = max(c.runs[n-1].hi, a+size)
		} else {
			c.runs = append(c.runs, span{a, a + size})
			c.first = append(c.first, k)
		}
		c.offs[k] = uint32(a - c.runs[len(c.runs)-1].lo)
	}
	c.first = append(c.first, len(sorted))
	buf := c.allocate(int(uint64(len(sorted)) * keep))
	for i, r := range c.runs {
		c.regions[i] = dbg.Region{Addr: r.lo}
	}
	workers := max(1, runtime.GOMAXPROCS(0))
	for range workers {
		st := make([]byte, stageBytes)
		for i := 0; i < len(st); i += pageSize {
			st[i] = 1
		}
		c.stages = append(c.stages, st)
		c.read1 = append(c.read1, make([]dbg.Region, 0, stageBytes/size+1))
	}
	c.raws = make([][]byte, len(addrs), len(addrs)+len(addrs)/8+64)
	for i, a := range addrs {
		k, _ := slices.BinarySearch(sorted, a)
		c.raws[i] = buf[uint64(k)*keep : uint64(k+1)*keep : uint64(k+1)*keep]
	}
	return c
}

// readPacked fills a packed plan's buffer: each worker reads its share of the runs, as
// many at a time as its staging buffer holds, and copies the kept bytes of each g out.
func (c *gCopy) readPacked(m dbg.Memory) error {
	total := uint64(0)
	for _, r := range c.runs {
		total += r.hi - r.lo
	}
	workers := min(len(c.stages), len(c.runs))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	lo, acc := 0, uint64(0)
	for w := range workers {
		hi := lo
		for hi < len(c.runs) && (w == workers-1 || acc < total*uint64(w+1)/uint64(workers)) {
			acc += c.runs[hi].hi - c.runs[hi].lo
			hi++
		}
		wg.Add(1)
		go func(w, lo, hi int) {
			defer wg.Done()
			errs[w] = c.readRuns(m, w, lo, hi)
		}(w, lo, hi)
		lo = hi
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *gCopy) readRuns(m dbg.Memory, w, lo, hi int) error {
	stage := c.stages[w]
	for r := lo; r < hi; {
		batch, used, r0 := c.read1[w][:0], 0, r
		for ; r < hi; r++ {
			n := int(c.runs[r].hi - c.runs[r].lo)
			if used+n > len(stage) {
				break
			}
			batch = append(batch, dbg.Region{Addr: c.runs[r].lo, Buf: stage[used : used+n : used+n]})
			used += n
		}
		if err := m.ReadBatch(batch); err != nil {
			return err
		}
		keep := int(c.keep)
		for i, q := range batch {
			for k := c.first[r0+i]; k < c.first[r0+i+1]; k++ {
				o := int(c.offs[k])
				copy(c.buf[k*keep:(k+1)*keep], q.Buf[o:o+keep])
			}
		}
	}
	return nil
}

// readEach reads the kept bytes of each g at addrs on its own (a packed plan's slow
// path); the g's that cannot be read are left out.
func (c *gCopy) readEach(m dbg.Memory, addrs []uint64) ([]uint64, [][]byte, error) {
	outA, outR, err := c.readKept(m, addrs)
	if err == nil && len(outA) == 0 && len(addrs) > 0 {
		return nil, nil, fmt.Errorf("none of the %d g structs could be read", len(addrs))
	}
	return outA, outR, err
}

// readKept is readEach, content with none.
func (c *gCopy) readKept(m dbg.Memory, addrs []uint64) ([]uint64, [][]byte, error) {
	regions := make([]dbg.Region, len(addrs))
	for i, a := range addrs {
		regions[i] = dbg.Region{Addr: a, Buf: make([]byte, c.keep)}
	}
	failed, err := readAll(m, regions)
	if err != nil {
		return nil, nil, fmt.Errorf("read the g structs: %w", err)
	}
	outA, outR := make([]uint64, 0, len(addrs)), make([][]byte, 0, len(addrs))
	for i, r := range regions {
		if !failed[i] {
			outA, outR = append(outA, r.Addr), append(outR, r.Buf)
		}
	}
	return outA, outR, nil
}

// hugePage is the size of an x86-64 / arm64 transparent huge page.
const hugePage = 2 << 20

// sliceAddr is the address of b's first byte.
func sliceAddr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

// releaseChunk is how much of the copy giveBack hands back to the system at a time: a
// huge page, which the kernel can only give back whole.
const releaseChunk = hugePage

// giveBack returns a function for a caller that decodes raws (read through the plan) in
// order: called with i once raws[0..i] are decoded, it hands back every releaseChunk of
// the plan's buffer that holds none of raws[i+1:], so that the copy shrinks as it is
// decoded instead of staying whole until the end (1,000,000 g structs: 460 MB beside the
// snapshot they become). allgs lists g's about in address order, which is the buffer's,
// so the chunks go back about evenly; in any order the result is right, only later.
// It returns nil when the buffer cannot be given back in parts (a small one on the heap).
// After a call, raws[0..i] must not be read again.
func (c *gCopy) giveBack(raws [][]byte) func(i int) {
	if c.drop == nil || len(c.buf) == 0 {
		return nil
	}
	base, size := sliceAddr(c.buf), uint64(len(c.buf))
	last := make([]int, (len(c.buf)+releaseChunk-1)/releaseChunk) // index of the last raw in each chunk
	for k := range last {
		last[k] = -1 // no g in it (a gap between runs): give it back at the first call
	}
	for i, r := range raws {
		if len(r) == 0 {
			continue
		}
		a := sliceAddr(r)
		if a < base || a-base >= size {
			continue // read outside the plan (a g created since it was made)
		}
		for k := (a - base) / releaseChunk; k <= (a-base+uint64(len(r))-1)/releaseChunk; k++ {
			last[k] = i
		}
	}
	order := make([]int, len(last))
	for k := range order {
		order[k] = k
	}
	slices.SortFunc(order, func(x, y int) int { return last[x] - last[y] })
	next := 0
	return func(i int) {
		for ; next < len(order) && last[order[next]] <= i; next++ {
			k := order[next]
			c.drop(k*releaseChunk, min((k+1)*releaseChunk, len(c.buf)))
		}
	}
}

// bytes is how much the plan reads.
func (c *gCopy) bytes() int {
	n := 0
	for _, r := range c.runs {
		n += int(r.hi - r.lo)
	}
	return n
}

// find returns the index of the run holding a whole g at a, or -1.
func (c *gCopy) find(a uint64) int {
	i, _ := slices.BinarySearchFunc(c.runs, a, func(r span, a uint64) int {
		switch {
		case r.hi <= a:
			return -1
		case r.lo > a:
			return 1
		}
		return 0
	})
	if i < len(c.runs) && a >= c.runs[i].lo && a+c.size <= c.runs[i].hi {
		return i
	}
	return -1
}

// read copies the g structs at addrs and returns the addresses it could read with, for
// each, its raw bytes (slices of the plan's buffers: valid until the next read).
func (c *gCopy) read(m dbg.Memory, addrs []uint64) ([]uint64, [][]byte, error) {
	if len(addrs) < len(c.addrs) || !slices.Equal(addrs[:len(c.addrs)], c.addrs) {
		if c.keep < c.size {
			return c.readEach(m, addrs)
		}
		return c.readSlow(m, addrs) // not the allgs the plan was made from: a new runtime?
	}
	if c.keep < c.size {
		if err := c.readPacked(m); err != nil {
			var re *dbg.ReadError
			if !errors.As(err, &re) {
				return nil, nil, fmt.Errorf("read the g structs: %w", err)
			}
			return c.readEach(m, addrs)
		}
		if len(addrs) == len(c.addrs) {
			return addrs, c.raws, nil
		}
		a, r, err := c.readKept(m, addrs[len(c.addrs):]) // g's appended since the plan
		if err != nil {
			return nil, nil, err
		}
		return append(addrs[:len(c.addrs):len(c.addrs)], a...), append(c.raws, r...), nil
	}
	// The common case: the plan's g's, and maybe a few appended since.
	regions, raws := c.regions, c.raws
	for _, a := range addrs[len(c.addrs):] {
		b := make([]byte, c.size)
		regions = append(regions, dbg.Region{Addr: a, Buf: b})
		raws = append(raws, b)
	}
	if err := m.ReadBatch(regions); err != nil {
		var re *dbg.ReadError
		if !errors.As(err, &re) {
			return nil, nil, fmt.Errorf("read the g structs: %w", err)
		}
		return c.readSlow(m, addrs)
	}
	return addrs, raws, nil
}

// readSlow reads the g's at addrs, those the plan does not cover one by one, and re-reads
// singly the g's of a run that could not be read whole.
func (c *gCopy) readSlow(m dbg.Memory, addrs []uint64) ([]uint64, [][]byte, error) {
	regions := slices.Clone(c.regions)
	owner := make([]int, len(addrs)) // region index of each g
	for i, a := range addrs {
		owner[i] = c.find(a)
		if owner[i] < 0 {
			owner[i] = len(regions)
			regions = append(regions, dbg.Region{Addr: a, Buf: make([]byte, c.size)})
		}
	}
	failed, err := readAll(m, regions)
	if err != nil {
		return nil, nil, fmt.Errorf("read the g structs: %w", err)
	}
	var retry []dbg.Region
	var retryOf []int
	for i, a := range addrs {
		if failed[owner[i]] {
			retry = append(retry, dbg.Region{Addr: a, Buf: make([]byte, c.size)})
			retryOf = append(retryOf, i)
		}
	}
	retryFailed, err := readAll(m, retry)
	if err != nil {
		return nil, nil, fmt.Errorf("read the g structs: %w", err)
	}
	raws := make([][]byte, len(addrs))
	for i, a := range addrs {
		if r := owner[i]; !failed[r] {
			off := a - regions[r].Addr
			raws[i] = regions[r].Buf[off : off+c.size]
		}
	}
	for j, i := range retryOf {
		if !retryFailed[j] {
			raws[i] = retry[j].Buf
		}
	}
	outA, outR := make([]uint64, 0, len(addrs)), make([][]byte, 0, len(addrs))
	for i := range addrs {
		if raws[i] != nil {
			outA = append(outA, addrs[i])
			outR = append(outR, raws[i])
		}
	}
	if len(outA) == 0 && len(addrs) > 0 {
		return nil, nil, fmt.Errorf("none of the %d g structs could be read", len(addrs))
	}
	return outA, outR, nil
}

// readAll reads regions and returns which of them failed; err is set only when the read
// failed as a whole (not a *dbg.ReadError).
func readAll(m dbg.Memory, regions []dbg.Region) (map[int]bool, error) {
	failed := map[int]bool{}
	if len(regions) == 0 {
		return failed, nil
	}
	if err := m.ReadBatch(regions); err != nil {
		var re *dbg.ReadError
		if !errors.As(err, &re) {
			return nil, err
		}
		for _, i := range re.Failed {
			failed[i] = true
		}
	}
	return failed, nil
}

// readStacks copies, for each live goroutine, its stack from the saved stack pointer up to
// the top of its stack, in one batch. Goroutines whose stack cannot be read are left out.
func readStacks(m dbg.Memory, gs []gstruct.G, arena *stackArena) map[uint64][]byte {
	var regions []dbg.Region
	var owners []uint64
	total := 0
	for _, g := range gs {
		if g.Status == "dead" || g.Status == "idle" || g.SchedSP == 0 {
			continue
		}
		if g.SchedSP < g.StackLo || g.SchedSP >= g.StackHi {
			continue
		}
		n := min(int(g.StackHi-g.SchedSP), maxStack)
		if total+n > maxStackAll {
			break
		}
		total += n
		regions = append(regions, dbg.Region{Addr: g.SchedSP, Buf: arena.take(n)})
		owners = append(owners, g.Addr)
	}
	failed, err := readAll(m, regions)
	if err != nil {
		return nil
	}
	out := make(map[uint64][]byte, len(regions))
	for i, r := range regions {
		if !failed[i] {
			out[owners[i]] = r.Buf
		}
	}
	return out
}

// stackArena is memory for stack copies, allocated and faulted in before the freeze from
// a first look at the running target's stack sizes; take falls back to make when it runs out.
type stackArena struct{ buf []byte }

func newStackArena(rt *gstruct.Runtime, raws [][]byte) *stackArena {
	total := 0
	for _, raw := range raws {
		g := rt.Decode(0, raw)
		if g.SchedSP >= g.StackLo && g.SchedSP < g.StackHi {
			total += min(int(g.StackHi-g.SchedSP), maxStack)
		}
	}
	total = min(total+total/4+1<<20, maxStackAll)
	a := &stackArena{buf: make([]byte, total)}
	for i := 0; i < len(a.buf); i += pageSize {
		a.buf[i] = 1
	}
	return a
}

func (a *stackArena) take(n int) []byte {
	if a == nil || len(a.buf) < n {
		return make([]byte, n)
	}
	b := a.buf[:n:n]
	a.buf = a.buf[n:]
	return b
}

// monotonicNow is the target's nanotime: the runtime's nanotime is CLOCK_MONOTONIC, which
// is shared by every process on this machine.
func monotonicNow(opt Options) int64 {
	if opt.Now != nil {
		return opt.Now()
	}
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return ts.Nano()
}
