package snapshot

import (
	"errors"
	"unsafe"
)

// ErrTooLarge is wrapped by every reader of untrusted input (a dump, a JSON snapshot, a
// core, a debugger's answer) that stopped because the input needs more memory than a
// real one of its size: a crafted or damaged file, or a stream that does not end. It is
// bad input (the CLI's exit status 2).
var ErrTooLarge = errors.New("input too large for gorigin to hold (crafted, damaged or endless?)")

// Sizes of the model's structs, for readers that count what they keep.
const (
	GoroutineSize = int64(unsafe.Sizeof(Goroutine{}))
	LocationSize  = int64(unsafe.Sizeof(Location{}))
)

// KeptBytes estimates the memory g holds on its own (the struct, its frames, strings and
// labels), counting nothing as shared.
func KeptBytes(g *Goroutine) int64 {
	n := GoroutineSize + int64(len(g.Status)+len(g.WaitReason))
	loc := func(l *Location) {
		n += LocationSize + int64(len(l.Func)+len(l.File)+len(l.PC))
	}
	if g.Origin != nil {
		loc(g.Origin)
	}
	if g.Start != nil {
		loc(g.Start)
	}
	for i := range g.Frames {
		loc(&g.Frames[i])
	}
	for k, v := range g.Labels {
		n += 48 + int64(len(k)+len(v)) // a map entry: two string headers and overhead
	}
	return n
}
