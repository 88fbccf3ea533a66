package capture

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of an x86-64 / arm64 transparent huge page.
const hugePage = 2 << 20

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

// sliceAddr is the address of b's first byte.
func sliceAddr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

// mmapMin is the size from which copy buffers come from mmap rather than the Go heap.
const mmapMin = 4 << 20

// allocBuf returns n zeroed bytes and a function that gives them back. Large buffers (the
// copy of every g struct: 460 MB at 1,000,000 goroutines) are mapped outside the Go heap:
// they do not count toward the garbage collector's goal (a 460 MB heap object lets the
// heap grow by as much again before the next collection), and free returns them to the
// system at once, right after decoding, instead of at some later collection. After free,
// b must not be touched; free is idempotent.
func allocBuf(n int) (b []byte, free func()) {
	if n < mmapMin {
		return make([]byte, n), func() {}
	}
	// One huge page more, so that the huge-page-aligned middle covers all but the ends.
	m, err := syscall.Mmap(-1, 0, n+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return make([]byte, n), func() {}
	}
	lo := int((hugePage - sliceAddr(m)%hugePage) % hugePage)
	adviseHugePages(m)
	freed := false
	return m[lo : lo+n : lo+n], func() {
		if !freed {
			freed = true
			syscall.Munmap(m)
		}
	}
}
