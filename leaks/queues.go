package leaks

import (
	"fmt"

	"github.com/gorigin-dev/gorigin/dbg"
)

// maxQueueBlocks bounds a finalizer or cleanup block list (a block holds about a hundred
// finalizers; a million blocks would be a runtime gone wrong or a list misread).
const maxQueueBlocks = 1 << 20

// queued scans the entries in use of every block of a finalizer or cleanup queue, as the
// garbage collector does (runtime.markroot, fixedRootFinalizers and fixedRootCleanups):
// a finalizer or cleanup queued but not run yet still holds its function and argument,
// and the special that held them before is gone. The blocks are not heap memory.
func (a *analysis) queued(q blockList) {
	warn := a.walkBlocks(q, func(b uint64, buf []byte) {
		n := min(word(buf, q.count), uint64((q.size-q.arr)/q.elem))
		if n > 0 {
			lo := b + uint64(q.arr)
			a.named = append(a.named, namedRange{lo, lo + n*uint64(q.elem), q.name})
			a.k.scan(lo, buf[q.arr:q.arr+int(n)*q.elem])
		}
	})
	if warn != "" {
		a.warn = append(a.warn, warn)
		a.k.failed++
	}
}

// walkBlocks calls fn with the address and bytes of every block of a finalizer or
// cleanup queue; it says what stopped the walk early ("": nothing).
func (a *analysis) walkBlocks(q blockList, fn func(b uint64, buf []byte)) string {
	if q.head == 0 || q.size <= 0 {
		return ""
	}
	head := make([]byte, 8)
	if err := a.m.ReadBatch([]dbg.Region{{Addr: q.head + a.bias, Buf: head}}); err != nil {
		return fmt.Sprintf("the %s were not scanned (%v)", q.name, err)
	}
	seen := map[uint64]bool{}
	buf := make([]byte, q.size)
	for b := word(head, field{0, 8}); b != 0 && !seen[b]; {
		if len(seen) >= maxQueueBlocks {
			return fmt.Sprintf("the %s list is longer than %d blocks: the rest was not scanned", q.name, maxQueueBlocks)
		}
		seen[b] = true
		if err := a.m.ReadBatch([]dbg.Region{{Addr: b, Buf: buf}}); err != nil {
			return fmt.Sprintf("a block of the %s at %#x could not be read (%v)", q.name, b, err)
		}
		fn(b, buf)
		b = word(buf, q.alllink)
	}
	return ""
}
