package leaks

import (
	"bytes"
	"testing"

	"github.com/gorigin-dev/gorigin/dbg"
)

// fakeMem is target memory at base; reads outside it fail. It counts ReadBatch calls.
type fakeMem struct {
	base  uint64
	data  []byte
	calls int
}

func (f *fakeMem) ReadBatch(rs []dbg.Region) error {
	f.calls++
	var failed []int
	for i, r := range rs {
		if r.Addr < f.base || r.Addr+uint64(len(r.Buf)) > f.base+uint64(len(f.data)) {
			failed = append(failed, i)
			continue
		}
		copy(r.Buf, f.data[r.Addr-f.base:])
	}
	if failed != nil {
		return &dbg.ReadError{Failed: failed, Err: dbg.ErrExited}
	}
	return nil
}

func TestReadManyMergesAndIsolatesFailures(t *testing.T) {
	m := &fakeMem{base: 0x1000, data: make([]byte, 64<<10)}
	for i := range m.data {
		m.data[i] = byte(i)
	}
	items := []item{
		{0x1000 + 100, 8}, {0x1000 + 50, 16}, // neighbours: one region
		{0x1000 + 60<<10, 32},
		{0x1000 + 64<<10 - 4, 8}, // runs past the end: fails alone
		{0x1000 + 200, 0},        // empty: ignored
	}
	got := map[int][]byte{}
	failed, err := readMany(m, items, func(i int, b []byte) { got[i] = append([]byte(nil), b...) })
	if err != nil {
		t.Fatal(err)
	}
	if failed != 1 {
		t.Errorf("failed = %d, want 1 (the item past the end)", failed)
	}
	for _, i := range []int{0, 1, 2} {
		off := items[i].addr - m.base
		if want := m.data[off : off+uint64(items[i].n)]; !bytes.Equal(got[i], want) {
			t.Errorf("item %d: got % x, want % x", i, got[i], want)
		}
	}
	if _, ok := got[3]; ok {
		t.Errorf("the unreadable item was passed to fn")
	}
}

func TestHeapFindHonoursAllocationAndBounds(t *testing.T) {
	h := &heap{spans: []span{
		{base: 0x10000, limit: 0x12000, elemsize: 64, nelems: 128, bit: 0},
		{base: 0x20000, limit: 0x20000 + 5000, elemsize: 8192, nelems: 1, bit: 128},
	}, objects: 129}
	h.alloc, h.mark = newBitset(h.objects), newBitset(h.objects)
	h.alloc.set(3)
	h.alloc.set(128)
	h.lo, h.hi = 0x10000, 0x22000
	cases := []struct {
		name string
		addr uint64
		ok   bool
		base uint64
		size uint64
	}{
		{"interior pointer to an allocated object", 0x10000 + 3*64 + 17, true, 0x10000 + 3*64, 64},
		{"free slot", 0x10000 + 4*64, false, 0, 0},
		{"below the heap", 0xffff, false, 0, 0},
		{"between spans", 0x15000, false, 0, 0},
		{"large object, size up to its limit", 0x20010, true, 0x20000, 5000},
		{"past the large span", 0x22000, false, 0, 0},
	}
	for _, pages := range []bool{false, true} {
		if pages {
			h.pages = make([]int32, (h.hi-h.lo)>>pageShift)
			for i, s := range h.spans {
				for p := (s.base - h.lo) >> pageShift; h.lo+p<<pageShift < s.base+s.nelems*s.elemsize; p++ {
					h.pages[p] = int32(i + 1)
				}
			}
		}
		for _, c := range cases {
			_, base, size, ok := h.find(c.addr)
			if ok != c.ok || base != c.base || size != c.size {
				t.Errorf("pages=%v %s: find(%#x) = %#x, %d, %v; want %#x, %d, %v", pages, c.name, c.addr, base, size, ok, c.base, c.size, c.ok)
			}
		}
	}
}

func TestMarkerFollowsPointersButNotSkipped(t *testing.T) {
	// Three 64-byte objects: a → b, b → c; a is a root, b is skipped (a g struct).
	m := &fakeMem{base: 0x10000, data: make([]byte, 8192)}
	put := func(addr, v uint64) {
		for i := 0; i < 8; i++ {
			m.data[addr-m.base+uint64(i)] = byte(v >> (8 * i))
		}
	}
	put(0x10000+8, 0x10040)
	put(0x10040, 0x10080)
	h := &heap{spans: []span{{base: 0x10000, limit: 0x12000, elemsize: 64, nelems: 128}}, objects: 128, lo: 0x10000, hi: 0x12000}
	h.alloc, h.mark = newBitset(128), newBitset(128)
	for i := uint64(0); i < 3; i++ {
		h.alloc.set(i)
	}
	k := &marker{m: m, h: h, skip: map[uint64]bool{0x10040: true}}
	k.root(0x10000, 64)
	if err := k.drain(); err != nil {
		t.Fatal(err)
	}
	if !h.mark.get(1) {
		t.Errorf("b, pointed to by the root, is not marked")
	}
	if h.mark.get(2) {
		t.Errorf("c is marked, but only the skipped object b points to it")
	}
}
