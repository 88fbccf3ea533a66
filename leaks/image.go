package leaks

import (
	"errors"
	"slices"
	"syscall"

	"github.com/gorigin-dev/gorigin/dbg"
)

// errNotCopied is why the copy cannot serve a read: the target ran on since, so memory
// outside the copy is not memory of the frozen moment.
var errNotCopied = errors.New("not in the copy taken while the target was frozen")

// image is target memory copied while the target was frozen: the heap spans that can
// hold pointers, the stacks, globals and whatever else was read during the freeze. While
// the target is frozen (live set) a read the copy does not hold goes to the target and
// is kept; after the thaw (live nil) it fails, so that marking on the copy never mixes
// in memory of a later moment.
type image struct {
	live   dbg.Memory
	runs   []chunk // the planned copy: sorted, not overlapping
	extras []chunk // everything else read while frozen: sorted, coalesced
	bytes  uint64  // bytes held
	hint   [2]int  // covered's last chunk of runs and of extras
	free   []func()
}

// chunk is a copied range of target memory.
type chunk struct {
	addr uint64
	b    []byte
}

func (c chunk) end() uint64 { return c.addr + uint64(len(c.b)) }

// release gives back the copy's buffers.
func (im *image) release() {
	for _, f := range im.free {
		f()
	}
	im.free, im.runs, im.extras = nil, nil, nil
}

// ReadBatch serves each region from the copy; see image.
func (im *image) ReadBatch(regions []dbg.Region) error {
	var miss []int
	for i, r := range regions {
		if !im.fill(r.Addr, r.Buf) {
			miss = append(miss, i)
		}
	}
	if len(miss) == 0 {
		return nil
	}
	if im.live == nil {
		return &dbg.ReadError{Failed: miss, Err: errNotCopied}
	}
	rs := make([]dbg.Region, len(miss))
	for j, i := range miss {
		rs[j] = regions[i]
	}
	err := im.live.ReadBatch(rs)
	bad := map[int]bool{}
	var re *dbg.ReadError
	if errors.As(err, &re) {
		for _, j := range re.Failed {
			bad[j] = true
		}
	} else if err != nil {
		return err
	}
	var failed []int
	var add []chunk
	for j, r := range rs {
		if bad[j] {
			failed = append(failed, miss[j])
			continue
		}
		add = append(add, chunk{r.Addr, append([]byte(nil), r.Buf...)})
	}
	im.addExtras(add)
	if len(failed) > 0 {
		return &dbg.ReadError{Failed: failed, Err: re.Err}
	}
	return nil
}

// fill copies [addr, addr+len(b)) from the copy, piece by piece across adjacent chunks of
// either list; false when some byte of it was not copied.
func (im *image) fill(addr uint64, b []byte) bool {
	for len(b) > 0 {
		n := max(copyFrom(im.runs, addr, b), copyFrom(im.extras, addr, b))
		if n == 0 {
			return false
		}
		addr += uint64(n)
		b = b[n:]
	}
	return true
}

// copyFrom copies into b what the chunk of cs holding addr has from addr on.
func copyFrom(cs []chunk, addr uint64, b []byte) int {
	i, _ := slices.BinarySearchFunc(cs, addr, func(c chunk, a uint64) int {
		if c.addr <= a {
			return -1
		}
		return 1
	})
	if i--; i < 0 || addr >= cs[i].end() {
		return 0
	}
	return copy(b, cs[i].b[addr-cs[i].addr:])
}

// view returns the copy's n bytes at addr where one chunk holds them all (nil where
// not), without copying them: valid until the copy is released.
func (im *image) view(addr uint64, n int) []byte {
	for k, cs := range [][]chunk{im.runs, im.extras} {
		if i := chunkAt(cs, addr, &im.hint[k]); i >= 0 && addr+uint64(n) <= cs[i].end() && addr+uint64(n) >= addr {
			off := addr - cs[i].addr
			return cs[i].b[off : off+uint64(n) : off+uint64(n)]
		}
	}
	return nil
}

// covered says whether [lo, hi) is all in the copy.
func (im *image) covered(lo, hi uint64) bool {
	for lo < hi {
		n := 0
		for k, cs := range [][]chunk{im.runs, im.extras} {
			if i := chunkAt(cs, lo, &im.hint[k]); i >= 0 && lo < cs[i].end() {
				n = max(n, int(min(cs[i].end(), hi)-lo))
			}
		}
		if n == 0 {
			return false
		}
		lo += uint64(n)
	}
	return true
}

// chunkAt is the index of the last chunk of cs starting at or below a (-1: none),
// trying *hint and the chunk after it first: callers mostly ask in address order.
func chunkAt(cs []chunk, a uint64, hint *int) int {
	if h := *hint; h >= 0 && h < len(cs) && cs[h].addr <= a {
		if h+1 == len(cs) || cs[h+1].addr > a {
			return h
		}
		if h+2 == len(cs) || cs[h+2].addr > a {
			*hint = h + 1
			return h + 1
		}
	}
	lo, hi := 0, len(cs) // the answer is lo-1: cs[:lo] start at or below a
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cs[m].addr <= a {
			lo = m + 1
		} else {
			hi = m
		}
	}
	*hint = lo - 1
	return lo - 1
}

// ensure reads from the frozen target every item the copy does not hold yet, straight
// into the copy, and says how many bytes that was. Items that cannot be read stay out of
// the copy.
func (im *image) ensure(items []item) (uint64, error) {
	var miss [][2]uint64
	for _, it := range items {
		if hi := it.addr + uint64(it.n); it.n > 0 && hi > it.addr && !im.covered(it.addr, hi) {
			miss = append(miss, [2]uint64{it.addr, hi})
		}
	}
	miss = mergeRanges(miss)
	var total uint64
	for _, r := range miss {
		total += r[1] - r[0]
	}
	if total == 0 {
		return 0, nil
	}
	if im.live == nil {
		return 0, errNotCopied
	}
	buf, free := allocBuf(int(total))
	im.free = append(im.free, free)
	regions := make([]dbg.Region, len(miss))
	for i, r := range miss {
		n := int(r[1] - r[0])
		regions[i] = dbg.Region{Addr: r[0], Buf: buf[:n:n]}
		buf = buf[n:]
	}
	bad := map[int]bool{}
	if err := im.live.ReadBatch(regions); err != nil {
		var re *dbg.ReadError
		if !errors.As(err, &re) {
			return 0, err
		}
		for _, i := range re.Failed {
			bad[i] = true
		}
	}
	add := make([]chunk, 0, len(regions))
	for i, r := range regions {
		if !bad[i] {
			add = append(add, chunk{r.Addr, r.Buf})
		}
	}
	im.addExtras(add)
	return total, nil
}

// addExtras adds chunks to extras and coalesces overlapping and adjacent ones.
func (im *image) addExtras(add []chunk) {
	if len(add) == 0 {
		return
	}
	all := append(im.extras, add...)
	slices.SortFunc(all, func(x, y chunk) int {
		switch {
		case x.addr < y.addr:
			return -1
		case x.addr > y.addr:
			return 1
		}
		return len(y.b) - len(x.b)
	})
	out := all[:0:0]
	for _, c := range all {
		if n := len(out); n > 0 && c.addr <= out[n-1].end() {
			if c.end() > out[n-1].end() {
				last := &out[n-1]
				last.b = append(last.b[:len(last.b):len(last.b)], c.b[last.end()-c.addr:]...)
			}
			continue
		}
		out = append(out, c)
	}
	im.extras = out
	im.bytes = 0
	for _, cs := range [][]chunk{im.runs, im.extras} {
		for _, c := range cs {
			im.bytes += uint64(len(c.b))
		}
	}
}

// mmapMin is the size from which a copy buffer is mapped outside the Go heap: a 500 MB
// heap object would let gorigin's own heap grow by as much again before a collection.
const mmapMin = 4 << 20

// allocBuf returns n zeroed bytes and a function that gives them back.
func allocBuf(n int) ([]byte, func()) {
	if n < mmapMin {
		return make([]byte, n), func() {}
	}
	m, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return make([]byte, n), func() {}
	}
	syscall.Madvise(m, 14) // MADV_HUGEPAGE: fewer faults when the warm copy first touches it
	freed := false
	return m, func() {
		if !freed {
			freed = true
			syscall.Munmap(m)
		}
	}
}
