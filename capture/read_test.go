package capture

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/gorigin-dev/gorigin/dbg"
)

// pages is a test memory: readable 4 KiB pages, each filled with a byte derived from its
// address, so that every read can be checked. Reads that touch an absent page fail.
type pages struct {
	present map[uint64]bool
	batches int
	regions int
}

func (p *pages) byteAt(a uint64) byte { return byte(a*7 + a>>12) }

func (p *pages) ReadBatch(regions []dbg.Region) error {
	p.batches++
	p.regions += len(regions)
	var re *dbg.ReadError
	for i, r := range regions {
		ok := true
		for a := r.Addr &^ 4095; a < r.Addr+uint64(len(r.Buf)); a += 4096 {
			ok = ok && p.present[a]
		}
		if !ok {
			if re == nil {
				re = &dbg.ReadError{Err: fmt.Errorf("no page")}
			}
			re.Failed = append(re.Failed, i)
			continue
		}
		for j := range r.Buf {
			r.Buf[j] = p.byteAt(r.Addr + uint64(j))
		}
	}
	if re != nil {
		return re
	}
	return nil
}

func (p *pages) want(a, size uint64) []byte {
	b := make([]byte, size)
	for j := range b {
		b[j] = p.byteAt(a + uint64(j))
	}
	return b
}

func TestCopyPlan(t *testing.T) {
	const size = 456
	mem := &pages{present: map[uint64]bool{}}
	for a := uint64(0x10000); a < 0x40000; a += 4096 {
		mem.present[a] = true
	}
	delete(mem.present, 0x22000) // a hole the first run's read would cross
	// g's packed in spans (the way the heap holds them), in allgs order (not sorted),
	// two of them on either side of the hole.
	var gs []uint64
	for i := uint64(0); i < 40; i++ {
		gs = append(gs, 0x38000-i*size)
	}
	gs = append(gs, 0x10000, 0x10000+size, 0x21f00, 0x23000)

	plan := planCopy(gs, size)
	if len(plan.regions) >= len(gs)/4 {
		t.Errorf("%d g's planned as %d regions: neighbours are not read together", len(gs), len(plan.regions))
	}

	t.Run("the g's of the plan, one unreadable", func(t *testing.T) {
		addrs, raws, err := plan.read(mem, gs)
		if err != nil {
			t.Fatal(err)
		}
		// 0x21f00 runs into the missing page: the only g that cannot be read.
		if len(addrs) != len(gs)-1 {
			t.Fatalf("read %d g's, want %d", len(addrs), len(gs)-1)
		}
		for i, a := range addrs {
			if a == 0x21f00 {
				t.Fatalf("the g across the hole was returned")
			}
			if !bytes.Equal(raws[i], mem.want(a, size)) {
				t.Fatalf("g at %#x: wrong bytes", a)
			}
		}
	})

	t.Run("g's appended since the plan are read too", func(t *testing.T) {
		mem.present[0x22000] = true
		mem.batches = 0
		more := append(append([]uint64{}, gs...), 0x3f000)
		addrs, raws, err := plan.read(mem, more)
		if err != nil || len(addrs) != len(more) {
			t.Fatalf("read %d of %d g's: %v", len(addrs), len(more), err)
		}
		if mem.batches != 1 {
			t.Errorf("%d ReadBatch calls, want 1", mem.batches)
		}
		found := false
		for i, a := range addrs {
			if !bytes.Equal(raws[i], mem.want(a, size)) {
				t.Fatalf("g at %#x: wrong bytes", a)
			}
			found = found || a == 0x3f000
		}
		if !found {
			t.Fatalf("the appended g was not read")
		}
	})

	t.Run("the common case is one batch", func(t *testing.T) {
		mem.present[0x22000] = true
		mem.batches = 0
		addrs, _, err := plan.read(mem, gs)
		if err != nil || len(addrs) != len(gs) {
			t.Fatalf("read %d of %d g's: %v", len(addrs), len(gs), err)
		}
		if mem.batches != 1 {
			t.Errorf("%d ReadBatch calls, want 1", mem.batches)
		}
	})

	t.Run("nothing readable is an error", func(t *testing.T) {
		empty := &pages{present: map[uint64]bool{}}
		if _, _, err := plan.read(empty, gs); err == nil {
			t.Fatal("no error when no g could be read")
		}
	})
}
