package leaks

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gorigin-dev/gorigin/dbg"
)

// The copy serves what it holds across adjacent chunks, reads (and keeps) the rest from
// the target while it is frozen, and after the thaw fails every read it does not hold,
// even where the target's memory would answer: marking must never mix moments.
func TestImageServesCopyThenRefusesWhatItLacks(t *testing.T) {
	live := &fakeMem{base: 0x1000, data: make([]byte, 0x3000)}
	for i := range live.data {
		live.data[i] = byte(i)
	}
	run := make([]byte, 0x100)
	copy(run, live.data[0x100:]) // the planned copy of [0x1100, 0x1200)
	im := &image{runs: []chunk{{0x1100, run}}, live: live}
	// The frozen target changes under a planned range: the copy, not the target, answers.
	live.data[0x150] ^= 0xff
	got := make([]byte, 0x10)
	if err := im.ReadBatch([]dbg.Region{{Addr: 0x1150, Buf: got}}); err != nil {
		t.Fatal(err)
	}
	if got[0] != 0x50 || live.calls != 0 {
		t.Errorf("a read inside the copy: got %#x after %d target reads; want the copied 0x50 and no target read", got[0], live.calls)
	}
	// Across the end of the copy while frozen: read from the target, and kept.
	across := make([]byte, 0x20)
	if err := im.ReadBatch([]dbg.Region{{Addr: 0x11f0, Buf: across}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(across, live.data[0x1f0:0x210]) || live.calls != 1 {
		t.Errorf("a read across the copy's end: %x after %d target reads; want the target's %x in one read", across, live.calls, live.data[0x1f0:0x210])
	}
	im.live = nil // thawed
	again := make([]byte, 0x20)
	if err := im.ReadBatch([]dbg.Region{{Addr: 0x11f0, Buf: again}}); err != nil || !bytes.Equal(again, across) {
		t.Errorf("after the thaw, what was read while frozen: %x, %v; want %x", again, err, across)
	}
	err := im.ReadBatch([]dbg.Region{{Addr: 0x1100, Buf: make([]byte, 8)}, {Addr: 0x2000, Buf: make([]byte, 8)}})
	var re *dbg.ReadError
	if !errors.As(err, &re) || len(re.Failed) != 1 || re.Failed[0] != 1 || !errors.Is(err, errNotCopied) {
		t.Errorf("after the thaw, a read outside the copy: %v; want a ReadError naming region 1 only, errNotCopied", err)
	}
	if live.calls != 1 {
		t.Errorf("the target was read %d times; after the thaw it must not be read", live.calls)
	}
}

// An object of a noscan span is marked (it can be a wait object) but never read: the
// copy leaves noscan spans out, and the garbage collector does not scan them either.
func TestMarkerDoesNotScanNoscanObjects(t *testing.T) {
	m := &fakeMem{base: 0x10000, data: make([]byte, 0x2000)} // only the scan span is readable
	put := func(addr, v uint64) {
		for i := 0; i < 8; i++ {
			m.data[addr-m.base+uint64(i)] = byte(v >> (8 * i))
		}
	}
	put(0x10000, 0x20010) // scan object 0 → noscan object 0
	h := &heap{spans: []span{
		{base: 0x10000, limit: 0x12000, elemsize: 64, nelems: 128, bit: 0},
		{base: 0x20000, limit: 0x22000, elemsize: 64, nelems: 128, bit: 128, noscan: true},
	}, objects: 256, lo: 0x10000, hi: 0x22000}
	h.alloc, h.mark = newBitset(256), newBitset(256)
	h.alloc.setRange(0, 256)
	k := &marker{m: m, h: h}
	k.root(0x10000, 64)
	if err := k.drain(); err != nil || k.failed != 0 {
		t.Fatalf("drain: %v, %d failed reads (a noscan object was read)", err, k.failed)
	}
	if !h.mark.get(128) {
		t.Errorf("the noscan object pointed to by the root is not marked")
	}
}

func TestBitsetRangeAndBytes(t *testing.T) {
	b := newBitset(300)
	b.setRange(3, 200)
	b.orByte(256, 0b1010_0001)
	for i := uint64(0); i < 300; i++ {
		want := (i >= 3 && i < 203) || i == 256 || i == 261 || i == 263
		if b.get(i) != want {
			t.Errorf("bit %d = %v, want %v", i, b.get(i), want)
		}
	}
}
