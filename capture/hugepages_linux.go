package capture

import "syscall"

// adviseHugePages asks the kernel to back b, not yet touched, with transparent huge pages
// (where THP is in "madvise" mode, the common default): faulting in the plan's buffer for
// 1,000,000 g structs (460 MB) then takes 230 faults instead of 112,000 — on a virtual
// machine, where every fault traps, seconds. Only the 2 MB-aligned middle of b is advised;
// the advice is a hint, and an error (an old kernel, THP off) changes nothing.
func adviseHugePages(b []byte) {
	if len(b) < 2*hugePage {
		return
	}
	p := sliceAddr(b)
	lo := (hugePage - p%hugePage) % hugePage
	hi := lo + (uint64(len(b))-lo)/hugePage*hugePage
	if hi > lo {
		syscall.Madvise(b[lo:hi], syscall.MADV_HUGEPAGE)
	}
}

// mmapMin is the size from which copy buffers come from mmap rather than the Go heap.
const mmapMin = 4 << 20

// allocBuf returns n zeroed bytes, a function that gives them back, and, for a mapped
// buffer, one that gives back the whole pages within b[lo:hi] (drop; nil for a heap
// buffer). Large buffers (the copy of every g struct: 460 MB at 1,000,000 goroutines) are
// mapped outside the Go heap: they do not count toward the garbage collector's goal (a
// 460 MB heap object lets the heap grow by as much again before the next collection), and
// free returns them to the system at once, right after decoding, instead of at some later
// collection; drop returns part of them while the rest is still being decoded. After
// free, b must not be touched, nor after drop the bytes it gave back (they read as zero);
// free is idempotent. b starts on a huge page.
func allocBuf(n int) (b []byte, free func(), drop func(lo, hi int)) {
	if n < mmapMin {
		return make([]byte, n), func() {}, nil
	}
	// One huge page more, so that the huge-page-aligned middle covers all but the ends.
	m, err := syscall.Mmap(-1, 0, n+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return make([]byte, n), func() {}, nil
	}
	lo := int((hugePage - sliceAddr(m)%hugePage) % hugePage)
	adviseHugePages(m)
	freed := false
	b = m[lo : lo+n : lo+n]
	return b, func() {
			if !freed {
				freed = true
				syscall.Munmap(m)
			}
		}, func(lo, hi int) {
			lo = (lo + pageSize - 1) / pageSize * pageSize // b starts on a page: whole pages only
			if hi < len(b) {
				hi = hi / pageSize * pageSize
			} else {
				hi = len(b) // the page b ends in is b's alone: the mapping goes on past it
			}
			if !freed && lo < hi {
				syscall.Madvise(b[lo:hi], syscall.MADV_DONTNEED)
			}
		}
}
