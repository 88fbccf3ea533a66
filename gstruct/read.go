package gstruct

import (
	"encoding/binary"
	"errors"

	"github.com/gorigin-dev/gorigin/dbg"
)

// uintAt decodes the unsigned integer of f.size bytes at f.off in b; ok is false when the
// field is absent, has an odd size, or does not fit in b.
func uintAt(order binary.ByteOrder, b []byte, f field) (v uint64, ok bool) {
	if f.off < 0 || f.size <= 0 || f.off > len(b) || len(b)-f.off < f.size {
		return 0, false
	}
	p := b[f.off : f.off+f.size]
	switch f.size {
	case 1:
		return uint64(p[0]), true
	case 2:
		return uint64(order.Uint16(p)), true
	case 4:
		return uint64(order.Uint32(p)), true
	case 8:
		return order.Uint64(p), true
	}
	return 0, false
}

// ptrAt decodes a pointer-sized word at off in b (0 when it does not fit).
func (l *layout) ptrAt(b []byte, off int) uint64 {
	v, _ := uintAt(l.order, b, field{off, l.ptrSize})
	return v
}

// batch collects reads of one level of indirection so that they cost one ReadBatch.
type batch struct {
	regions []dbg.Region
	owners  []int // whatever the caller wants to know a region by
}

func (b *batch) add(owner int, addr uint64, n int) {
	b.regions = append(b.regions, dbg.Region{Addr: addr, Buf: make([]byte, n)})
	b.owners = append(b.owners, owner)
}

// read reads every region. Regions that could not be read are reported in failed (by
// index); any other error is returned.
func (b *batch) read(m dbg.Memory) (failed map[int]bool, firstErr error, err error) {
	if len(b.regions) == 0 {
		return nil, nil, nil
	}
	err = m.ReadBatch(b.regions)
	if err == nil {
		return nil, nil, nil
	}
	var re *dbg.ReadError
	if !errors.As(err, &re) {
		return nil, nil, err
	}
	failed = map[int]bool{}
	for _, i := range re.Failed {
		failed[i] = true
	}
	return failed, re, nil
}
