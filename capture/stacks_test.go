package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/gstruct"
)

// flatMem is a test memory of one range of bytes that the test can change, counting the
// regions read.
type flatMem struct {
	base    uint64
	b       []byte
	regions int
}

func (m *flatMem) ReadBatch(regions []dbg.Region) error {
	for _, r := range regions {
		if r.Addr < m.base || r.Addr+uint64(len(r.Buf)) > m.base+uint64(len(m.b)) {
			return fmt.Errorf("read outside the test memory at %#x", r.Addr)
		}
		copy(r.Buf, m.b[r.Addr-m.base:])
		m.regions++
	}
	return nil
}

// fakeG is a test g struct: sched.sp, stack.hi and a counter that stands for everything
// else the runtime changes when a goroutine runs (status, trackingSeq, ...).
func fakeG(sp, hi, seq uint64) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint64(b, sp)
	binary.LittleEndian.PutUint64(b[8:], hi)
	binary.LittleEndian.PutUint64(b[16:], seq)
	return b
}

func decodeFake(addr uint64, raw []byte) gstruct.G {
	sp, hi := binary.LittleEndian.Uint64(raw), binary.LittleEndian.Uint64(raw[8:])
	return gstruct.G{Addr: addr, Status: "waiting", SchedSP: sp, StackLo: hi - 0x100, StackHi: hi}
}

// TestWarmStacks: the stacks of goroutines whose g struct did not change between the warm
// copy and the freeze are taken from the warm copy without a read; those of the changed
// and new ones are read again, and only those.
func TestWarmStacks(t *testing.T) {
	mem := &flatMem{base: 0x1000, b: make([]byte, 0x1000)}
	fill := func(lo, hi uint64, v byte) {
		for a := lo; a < hi; a++ {
			mem.b[a-mem.base] = v
		}
	}
	// Three goroutines, each using the top 0x40 bytes of its 0x100-byte stack.
	fill(0x11c0, 0x1200, 1)
	fill(0x12c0, 0x1300, 2)
	fill(0x13c0, 0x1400, 3)
	addrs := []uint64{0xa0, 0xb0, 0xc0}
	warm := [][]byte{fakeG(0x11c0, 0x1200, 7), fakeG(0x12c0, 0x1300, 7), fakeG(0x13c0, 0x1400, 7)}
	arena := &stackArena{buf: make([]byte, 0x400)}
	w := copyStacksWarm(mem, decodeFake, addrs, warm, arena)
	if len(w.stacks) != 3 || mem.regions != 3 {
		t.Fatalf("warm copy: %d stacks in %d reads, want 3 in 3", len(w.stacks), mem.regions)
	}

	// Then, before the freeze: goroutine 0xa0 ran and parked again deeper in its stack
	// (its g changed); 0xb0 did not run, but a channel send wrote into its stack (data, not
	// frames: its g is the same); 0xc0 did not change; 0xd0 is new.
	fill(0x1180, 0x1200, 4)
	fill(0x12e0, 0x12e8, 5)
	fill(0x14c0, 0x1500, 6)
	frozen := [][]byte{fakeG(0x1180, 0x1200, 8), fakeG(0x12c0, 0x1300, 7), fakeG(0x13c0, 0x1400, 7), fakeG(0x14c0, 0x1500, 0)}
	addrs = append(addrs, 0xd0)
	mem.regions = 0
	stacks, n := w.refresh(mem, decodeFake, addrs, frozen, arena)
	if n != 2 || mem.regions != 2 {
		t.Errorf("%d g's changed, %d stacks read while frozen; want 2 and 2", n, mem.regions)
	}
	want := map[uint64][]byte{
		0xa0: bytes.Repeat([]byte{4}, 0x80), // read again: the new stack
		0xb0: bytes.Repeat([]byte{2}, 0x40), // the warm copy
		0xc0: bytes.Repeat([]byte{3}, 0x40), // the warm copy
		0xd0: bytes.Repeat([]byte{6}, 0x40), // new: read
	}
	if len(stacks) != len(want) {
		t.Errorf("%d stacks, want %d", len(stacks), len(want))
	}
	for a, s := range want {
		if !bytes.Equal(stacks[a], s) {
			t.Errorf("stack of g %#x: % x, want % x", a, stacks[a], s)
		}
	}
}
