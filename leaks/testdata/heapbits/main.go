// Command heapbits is the target of the leaks package's pointer-map test: heap objects
// of known types, one of each way the runtime records where an object's pointers are
// (small objects, objects with a malloc header, an array of structs, a large object).
// Every pointer field points to an object of its own, and every uintptr field holds the
// address of another heap object, as runtime.p's page cache does: a scan that follows
// the pointer maps marks the first and never the second.
//
// It prints "ready small=A header=A pairs=A big=A" and exits when its standard input
// closes.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"unsafe"
)

// Small fits in a small-object span (at most 512 bytes).
type Small struct {
	A *int
	B uintptr
	C string
	D []byte
	E int
	F *int
}

// Header is larger than 512 bytes: it gets a malloc header (Go 1.22+).
type Header struct {
	P   *int
	X   [70]uintptr
	Q   map[int]int
	S   string
	Arr [4]Pair
}

// Pair is the element of an array of structs.
type Pair struct {
	U uintptr
	V *int
}

// Big has a span of its own.
type Big struct {
	X [5000]uintptr
	P *int
	Y [10]*int
}

var keep []any

// ptr returns a pointer to an object of its own (a pointer-free *int could share a
// 16-byte block with another: the runtime's tiny allocator).
func ptr() *int {
	p := new(struct {
		v int
		q *int
	})
	keep = append(keep, p)
	return &p.v
}

// decoy is the address of an allocated heap object (kept alive by keep, which the test
// does not scan).
func decoy() uintptr {
	p := new([4]*int)
	keep = append(keep, p)
	return uintptr(unsafe.Pointer(p))
}

func main() {
	s := &Small{A: ptr(), B: decoy(), C: string(make([]byte, 40)), D: make([]byte, 40), E: int(decoy()), F: ptr()}
	h := &Header{P: ptr(), Q: map[int]int{1: 1}, S: string(make([]byte, 40))}
	for i := range h.X {
		h.X[i] = decoy()
	}
	for i := range h.Arr {
		h.Arr[i] = Pair{decoy(), ptr()}
	}
	pairs := make([]Pair, 100)
	for i := range pairs {
		pairs[i] = Pair{decoy(), ptr()}
	}
	b := &Big{P: ptr()}
	for i := range b.X {
		if i%100 == 0 {
			b.X[i] = decoy()
		}
	}
	for i := range b.Y {
		b.Y[i] = ptr()
	}
	keep = append(keep, s, h, pairs, b)
	runtime.GC()
	fmt.Printf("ready small=%#x header=%#x pairs=%#x big=%#x\n", uintptr(unsafe.Pointer(s)), uintptr(unsafe.Pointer(h)), uintptr(unsafe.Pointer(&pairs[0])), uintptr(unsafe.Pointer(b)))
	io.Copy(io.Discard, os.Stdin)
	runtime.KeepAlive(keep)
}
