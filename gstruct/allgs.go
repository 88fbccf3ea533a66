package gstruct

import (
	"fmt"

	"github.com/gorigin-dev/gorigin/dbg"
)

// maxGs caps how many goroutines AllGs believes in, whatever memory says.
const maxGs = 50_000_000

// AllGs reads runtime.allglen and the runtime.allgs slice and returns the addresses of the
// runtime.g structures (every goroutine ever created that has not been freed, dead ones
// included). Call it after Bind, with the target frozen for a consistent view.
func (r *Runtime) AllGs(m dbg.Memory) ([]uint64, error) {
	p := r.l.ptrSize
	slice := dbg.Region{Addr: r.allgs + r.bias, Buf: make([]byte, 3*p)}
	length := dbg.Region{Addr: r.allglen + r.bias, Buf: make([]byte, p)}
	if err := m.ReadBatch([]dbg.Region{slice, length}); err != nil {
		return nil, fmt.Errorf("read %s and %s: %w", symAllgs, symAllglen, err)
	}
	data, sliceLen, sliceCap := r.l.ptrAt(slice.Buf, 0), r.l.ptrAt(slice.Buf, p), r.l.ptrAt(slice.Buf, 2*p)
	n := r.l.ptrAt(length.Buf, 0)
	if sliceLen > sliceCap {
		return nil, fmt.Errorf("%s is not a slice (len %d > cap %d): is the load bias %#x right?", symAllgs, sliceLen, sliceCap, r.bias)
	}
	// allglen is stored after the append to allgs, so it is never beyond the slice.
	n = min(n, sliceLen, maxGs)
	if n == 0 {
		return nil, nil
	}
	if data == 0 {
		return nil, fmt.Errorf("%s has %d elements and a nil array", symAllgs, n)
	}
	arr := dbg.Region{Addr: data, Buf: make([]byte, int(n)*p)}
	if err := m.ReadBatch([]dbg.Region{arr}); err != nil {
		return nil, fmt.Errorf("read the %d elements of %s at %#x: %w", n, symAllgs, data, err)
	}
	gs := make([]uint64, 0, n)
	for i := 0; i < int(n); i++ {
		if g := r.l.ptrAt(arr.Buf, i*p); g != 0 {
			gs = append(gs, g)
		}
	}
	return gs, nil
}
