package gstruct

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

// TestAllGsReadsOnlyWhatWasAppended: a second AllGs reads only the entries appended to
// the same array since the first, and everything again when the array was replaced.
func TestAllGsReadsOnlyWhatWasAppended(t *testing.T) {
	m := newFakeMem()
	r := testRuntime(labelsSlice)
	words := func(v ...uint64) []byte {
		b := make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(b[8*i:], x)
		}
		return b
	}
	arr := words(0x1000, 0x2000, 0, 0x4000, 0x5000, 0x6000) // cap 6; 0 is a nil slot
	arrAddr := m.alloc(arr)
	header := words(arrAddr, 3, 6)
	r.allgs = m.alloc(header)
	length := words(3)
	r.allglen = m.alloc(length)

	check := func(name string, want []uint64, wantBytes int) {
		t.Helper()
		got, err := r.AllGs(m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: AllGs = %#x, want %#x", name, got, want)
		}
		if n := len(r.lastAllgs.gs); n*8 < wantBytes {
			t.Errorf("%s: remembered %d entries", name, n)
		}
	}
	check("first look", []uint64{0x1000, 0x2000}, 24)

	// Appending: the first entries are not read again. Prove it by changing them in
	// memory (which the runtime never does): the remembered values stay.
	binary.LittleEndian.PutUint64(arr[0:], 0xdead)
	binary.LittleEndian.PutUint64(header[8:], 5)
	binary.LittleEndian.PutUint64(length, 5)
	check("appended", []uint64{0x1000, 0x2000, 0x4000, 0x5000}, 40)

	// A new array: everything is read.
	arr2 := words(0x1000, 0x2000, 0, 0x4000, 0x5000, 0x6000, 0x7000)
	binary.LittleEndian.PutUint64(header[0:], m.alloc(arr2))
	binary.LittleEndian.PutUint64(header[8:], 7)
	binary.LittleEndian.PutUint64(header[16:], 7)
	binary.LittleEndian.PutUint64(length, 7)
	check("grown into a new array", []uint64{0x1000, 0x2000, 0x4000, 0x5000, 0x6000, 0x7000}, 56)
}

// TestAllGsDamaged: an allgs slice header or array the runtime never writes (a damaged
// core, a corrupted allglen) is ErrCorrupt, which the CLI reports as bad input.
func TestAllGsDamaged(t *testing.T) {
	word := func(v ...uint64) []byte {
		b := make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(b[8*i:], x)
		}
		return b
	}
	cases := []struct {
		name           string
		data, len, cap uint64
		allglen        uint64
	}{
		{"len beyond cap", 0, 9, 3, 9},
		{"a nil array", 0, 3, 3, 3},
		{"an array outside memory", 0x7fff_0000_0000, 1 << 20, 1 << 20, 1 << 40},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newFakeMem()
			r := testRuntime(labelsSlice)
			r.allgs = m.alloc(word(c.data, c.len, c.cap))
			r.allglen = m.alloc(word(c.allglen))
			if _, err := r.AllGs(m); !errors.Is(err, ErrCorrupt) {
				t.Errorf("AllGs: %v, want ErrCorrupt", err)
			}
		})
	}
}
