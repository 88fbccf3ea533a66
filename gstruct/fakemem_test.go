package gstruct

import (
	"encoding/binary"
	"fmt"

	"github.com/gorigin-dev/gorigin/dbg"
)

// fakeMem is a sparse, test-only target memory built by the tests: a few segments at
// chosen addresses. Reads must fall inside one segment.
type fakeMem struct {
	segs    []fakeSeg
	next    uint64 // where alloc places the next segment
	batches int    // ReadBatch calls
}

type fakeSeg struct {
	addr uint64
	data []byte
}

func newFakeMem() *fakeMem { return &fakeMem{next: 0x10000} }

func (m *fakeMem) ReadBatch(regions []dbg.Region) error {
	m.batches++
	var re *dbg.ReadError
	for i, r := range regions {
		if !m.read(r) {
			if re == nil {
				re = &dbg.ReadError{Err: fmt.Errorf("no memory at %#x+%d", r.Addr, len(r.Buf))}
			}
			re.Failed = append(re.Failed, i)
		}
	}
	if re != nil {
		return re
	}
	return nil
}

func (m *fakeMem) read(r dbg.Region) bool {
	for _, s := range m.segs {
		if r.Addr >= s.addr && r.Addr-s.addr <= uint64(len(s.data)) && uint64(len(s.data))-(r.Addr-s.addr) >= uint64(len(r.Buf)) {
			copy(r.Buf, s.data[r.Addr-s.addr:])
			return true
		}
	}
	return false
}

// alloc places b in memory (16-byte aligned, with a gap after it) and returns its address.
func (m *fakeMem) alloc(b []byte) uint64 {
	a := m.next
	m.segs = append(m.segs, fakeSeg{a, b})
	m.next = (a + uint64(len(b)) + 0x100) &^ 15
	return a
}

// str places a string's bytes and returns its header (pointer, length); "" has a nil pointer.
func (m *fakeMem) str(s string) (uint64, uint64) {
	if s == "" {
		return 0, 0
	}
	return m.alloc([]byte(s)), uint64(len(s))
}

// words encodes 64-bit little-endian words.
func words(ws ...uint64) []byte {
	b := make([]byte, 8*len(ws))
	for i, w := range ws {
		binary.LittleEndian.PutUint64(b[8*i:], w)
	}
	return b
}

// labelSlice places a Go ≥ 1.24 labelMap holding pairs (key, value, key, value...) and
// returns the address g.labels would hold.
func (m *fakeMem) labelSlice(kv ...string) uint64 {
	var arr []uint64
	for _, s := range kv {
		p, n := m.str(s)
		arr = append(arr, p, n)
	}
	data := uint64(0)
	if len(arr) > 0 {
		data = m.alloc(words(arr...))
	}
	return m.alloc(words(data, uint64(len(kv)/2), uint64(len(kv)/2)))
}

// mapSlot is one slot of a classic map bucket.
type mapSlot struct {
	top        uint8
	key, value string
}

// bucket places a bucket<string,string> (amd64 layout) with the given slots and overflow.
func (m *fakeMem) bucket(slots []mapSlot, overflow uint64) []byte {
	ml := classicMapLayout(8)
	b := make([]byte, ml.bucketSize)
	for k, s := range slots {
		b[ml.bucketTophash+k] = s.top
		kp, kn := m.str(s.key)
		vp, vn := m.str(s.value)
		copy(b[ml.bucketKeys+16*k:], words(kp, kn))
		copy(b[ml.bucketElems+16*k:], words(vp, vn))
	}
	copy(b[ml.bucketOverflow:], words(overflow))
	return b
}

// labelMapVar places a Go ≤ 1.23 labelMap: a map variable pointing at an hmap with the
// given count, flags, B, buckets and old buckets; it returns the address g.labels would hold.
func (m *fakeMem) labelMapVar(count uint64, flags, b uint8, buckets, old uint64) uint64 {
	h := make([]byte, 48)
	copy(h, words(count))
	h[8], h[9] = flags, b
	copy(h[16:], words(buckets, old))
	return m.alloc(words(m.alloc(h)))
}

// testRuntime is a Runtime with an amd64 layout that needs no executable: runtime.g as in
// Go 1.22 and the given label representation.
func testRuntime(form labelForm) *Runtime {
	ml := classicMapLayout(8)
	ml.form = form
	return &Runtime{
		l: &layout{
			ptrSize: 8, order: binary.LittleEndian,
			gSize:   448,
			stackLo: field{0, 8}, stackHi: field{8, 8}, m: field{48, 8},
			schedSP: field{56, 8}, schedPC: field{64, 8}, schedBP: field{96, 8},
			status: field{144, 4}, goid: field{152, 8}, waitsince: field{168, 8},
			waitreason: field{176, 1}, lockedm: field{232, 8}, parentGoid: field{296, 8},
			gopc: field{304, 8}, startpc: field{320, 8}, labels: field{368, 8},
			statuses: map[uint32]string{0: "idle", 1: "runnable", 2: "running", 3: "syscall",
				4: "waiting", 5: "unknown", 6: "dead", 7: "unknown", 8: "copystack", 9: "preempted"},
			gscan: 0x1000, gwaiting: 4,
			waitReasonCount: 3,
			labelMap:        ml,
		},
		waitReasons: []string{"", "GC assist marking", "chan receive"},
	}
}
