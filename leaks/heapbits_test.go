package leaks

import (
	"debug/dwarf"
	"debug/elf"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/native"
	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// TestHeapPointerMaps: testdata/heapbits holds heap objects of known types — a small
// struct, one with a malloc header (Go 1.22+), an array of structs, a large object —
// whose pointer fields each point to an object of their own and whose uintptr and int
// fields hold the addresses of other heap objects. Scanning each object with the pointer
// maps decoded from the target's heap must follow exactly the words that the program's
// DWARF says are pointers (the oracle: the compiler's description of the types, not the
// runtime's bitmaps), and no object may be scanned conservatively.
func TestHeapPointerMaps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a target per toolchain")
	}
	testenv.NeedPtrace(t)
	for _, tc := range []string{"go1.20.14", "go1.21.13", "go1.22.12", "go1.26.8", "go1.27.3"} {
		t.Run(tc, func(t *testing.T) {
			exe := testenv.Binary(t, testenv.Build{Dir: "testdata/heapbits", Toolchain: tc})
			addrs := startHeapbits(t, exe)
			want := dwarfPointerOffsets(t, exe, map[string]int{"main.Small": 1, "main.Header": 1, "main.Pair": 100, "main.Big": 1})
			p, err := native.Attach(addrs["pid"], native.Options{MaxFreeze: 30 * time.Second})
			if err != nil {
				t.Skipf("cannot attach: %v", err)
			}
			defer p.Close()
			s, err := Begin(p, Options{Mode: ModeFrozen})
			if err != nil {
				t.Fatal(err)
			}
			defer s.a.types.close()
			a := s.a
			if err := p.Freeze(); err != nil {
				t.Fatal(err)
			}
			defer p.Thaw()
			if a.h, err = readHeap(p, a.l, a.bias); err != nil {
				t.Fatal(err)
			}
			a.loadPointerBits()
			minor := a.l.goMinor
			for _, c := range []struct {
				name, typ string
				scan      int // how the span is scanned, Go 1.22+ (1.20-1.21: span bits)
			}{
				{"small", "main.Small", scanBits},
				{"header", "main.Header", scanHeader},
				{"pairs", "main.Pair", scanHeader},
				{"big", "main.Big", scanLarge},
			} {
				addr := addrs[c.name]
				si, obj, base, size, ok := a.h.findSpan(uint64(addr))
				if !ok {
					t.Fatalf("%s %#x: not an allocated heap object", c.name, addr)
				}
				sp := &a.h.spans[si]
				if wantScan := map[bool]int{true: c.scan, false: scanBits}[minor >= 22]; sp.scan != wantScan {
					t.Errorf("%s (%d-byte object, span of %d-byte elements, class %d): scanned %d, want %d", c.name, size, sp.elemsize, sp.class>>1, sp.scan, wantScan)
				}
				buf := make([]byte, size)
				if err := p.ReadBatch([]dbg.Region{{Addr: base, Buf: buf}}); err != nil {
					t.Fatal(err)
				}
				a.h.mark = newBitset(a.h.objects)
				a.h.mark.set(obj)
				k := &marker{m: p, h: a.h, from: map[uint64]uint64{}, types: a.types.gcType}
				k.scanObject(objRef{si, base}, base, buf)
				var got []int
				for _, at := range k.from {
					got = append(got, int(at)-addr) // from the Go pointer: after a malloc header
				}
				slices.Sort(got)
				if !slices.Equal(got, want[c.typ]) {
					t.Errorf("%s: pointer words followed at %v, want DWARF's %v", c.name, got, want[c.typ])
				}
				if k.conservative != 0 || k.precise == 0 {
					t.Errorf("%s: %d bytes scanned conservatively, %d with pointer maps", c.name, k.conservative, k.precise)
				}
			}
		})
	}
}

// startHeapbits starts the fixture and returns its pid and the addresses it printed.
func startHeapbits(t *testing.T, exe string) map[string]int {
	t.Helper()
	cmd, line := startTarget(t, exe)
	out := map[string]int{"pid": cmd.Process.Pid}
	f := strings.Fields(line)
	if len(f) != 5 || f[0] != "ready" {
		t.Fatalf("target said %q", line)
	}
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 0, 64)
		if err != nil {
			t.Fatalf("target said %q", line)
		}
		out[k] = int(n)
	}
	return out
}

// dwarfPointerOffsets reads, for each named struct type, the byte offsets of the words
// that hold pointers in count consecutive values of it, from the executable's DWARF.
func dwarfPointerOffsets(t *testing.T, exe string, types map[string]int) map[string][]int {
	t.Helper()
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]int{}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e == nil {
			break
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		count, ok := types[name]
		if e.Tag != dwarf.TagStructType || !ok || out[name] != nil {
			continue
		}
		typ, err := d.Type(e.Offset)
		if err != nil {
			t.Fatal(err)
		}
		var offs []int
		for i := 0; i < count; i++ {
			offs = pointerWords(typ, i*int(typ.Size()), offs)
		}
		out[name] = offs
	}
	for name := range types {
		if out[name] == nil {
			t.Fatalf("%s: no such struct type with pointers in the DWARF of %s", name, exe)
		}
	}
	return out
}

// pointerWords appends the offsets (from off) of the pointer words of a value of typ.
func pointerWords(typ dwarf.Type, off int, out []int) []int {
	switch tt := typ.(type) {
	case *dwarf.TypedefType:
		return pointerWords(tt.Type, off, out)
	case *dwarf.PtrType:
		return append(out, off)
	case *dwarf.StructType:
		for _, fl := range tt.Field {
			out = pointerWords(fl.Type, off+int(fl.ByteOffset), out)
		}
	case *dwarf.ArrayType:
		for i := 0; i < int(tt.Count); i++ {
			out = pointerWords(tt.Type, off+i*int(tt.Type.Size()), out)
		}
	}
	return out
}
