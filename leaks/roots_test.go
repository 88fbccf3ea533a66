package leaks

import (
	"fmt"
	"testing"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/gstruct"
)

// TestThreadRegisterIsARoot: an object whose only pointer is in a register (rax) of a
// thread running a goroutine is marked, and what it points to too. The same register of
// a thread whose stack pointer is in a blocked goroutine's stack (stale), or no registers
// at all, marks nothing.
func TestThreadRegisterIsARoot(t *testing.T) {
	for _, c := range []struct {
		status string
		regs   bool
		want   bool
	}{
		{"running", true, true},
		{"waiting", true, false},
		{"running", false, false},
	} {
		name := fmt.Sprintf("%s goroutine, registers %v", c.status, c.regs)
		// Heap: 0x10000-0x12000; the goroutine's stack: 0x12000-0x13000 (zeros).
		m := &fakeMem{base: 0x10000, data: make([]byte, 0x3000)}
		put := func(addr, v uint64) {
			for i := 0; i < 8; i++ {
				m.data[addr-m.base+uint64(i)] = byte(v >> (8 * i))
			}
		}
		put(0x10040+16, 0x10080) // object 1 (the "hchan") → object 2
		h := &heap{spans: []span{{base: 0x10000, limit: 0x12000, elemsize: 64, nelems: 128}}, objects: 128, lo: 0x10000, hi: 0x12000}
		h.alloc, h.mark = newBitset(128), newBitset(128)
		for i := uint64(0); i < 3; i++ {
			h.alloc.set(i)
		}
		a := &analysis{l: &layout{}, h: h, k: &marker{m: m, h: h, from: map[uint64]uint64{}}}
		a.gs = []*gor{{g: gstruct.G{ID: 5, Status: c.status, StackLo: 0x12000, StackHi: 0x13000}}}
		a.stacks = []stackRange{{0x12000, 0x13000, 0}}
		th := dbg.Thread{TID: 7, PC: 0x401000, SP: 0x12800}
		if c.regs {
			th.Regs = make([]uint64, 27)
			th.Regs[10] = 0x10040 + 8 // an interior pointer in rax
			th.Regs[0] = 0xdead       // r15: not a heap pointer
		}
		a.threadRoots([]dbg.Thread{th})
		if err := a.k.drain(); err != nil {
			t.Fatal(err)
		}
		if got := h.mark.get(1); got != c.want {
			t.Errorf("%s: the object only a register points to is marked %v, want %v", name, got, c.want)
		}
		if got := h.mark.get(2); got != c.want {
			t.Errorf("%s: the object it points to is marked %v, want %v", name, got, c.want)
		}
		if h.mark.get(0) {
			t.Errorf("%s: object 0, which nothing points to, is marked", name)
		}
		if a.k.scanned < 0x800 {
			t.Errorf("%s: %d bytes scanned, want the thread's stack from its SP (0x800)", name, a.k.scanned)
		}
		if c.want {
			if p := a.pathTo(1); p != "a register of a thread" {
				t.Errorf("%s: path to the object = %q, want the register", name, p)
			}
		}
		if !c.regs && len(a.warn) == 0 {
			t.Errorf("%s: no warning that registers were not scanned", name)
		}
	}
}
