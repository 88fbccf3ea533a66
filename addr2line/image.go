package addr2line

import (
	"debug/elf"
	"fmt"
	"io"
	"sort"
)

// chunk bounds a single allocation made from a size read from the file, in
// the manner of internal/saferio: a lying size fails at EOF, not in make.
const chunk = 10 << 20

// readAt reads n bytes at off without trusting n.
func readAt(r io.ReaderAt, n uint64, off int64) ([]byte, error) {
	if n > 1<<40 || off < 0 {
		return nil, fmt.Errorf("size %d at offset %d out of range", n, off)
	}
	var buf []byte
	for uint64(len(buf)) < n {
		next := min(n-uint64(len(buf)), chunk)
		b := make([]byte, next)
		if _, err := r.ReadAt(b, off+int64(len(buf))); err != nil {
			return nil, err
		}
		buf = append(buf, b...)
	}
	return buf, nil
}

// segment is the file-backed part of one PT_LOAD program header.
type segment struct {
	addr, size uint64
	writable   bool
	prog       *elf.Prog
	data       []byte // nil until loaded
}

func (s *segment) contains(addr uint64) bool {
	return addr >= s.addr && addr-s.addr < s.size
}

func (s *segment) load() ([]byte, error) {
	if s.data == nil {
		b, err := readAt(s.prog, s.size, 0)
		if err != nil {
			return nil, fmt.Errorf("read segment at %#x (%d bytes): %w (the file is truncated or corrupt)", s.addr, s.size, err)
		}
		s.data = b
	}
	return s.data, nil
}

// image is the executable's memory image at link-time addresses, as far as
// the file holds it.
type image struct {
	segs []*segment // sorted by addr
}

func newImage(f *elf.File) (*image, error) {
	im := &image{}
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Filesz == 0 {
			continue
		}
		im.segs = append(im.segs, &segment{addr: p.Vaddr, size: p.Filesz, writable: p.Flags&elf.PF_W != 0, prog: p})
	}
	if len(im.segs) == 0 {
		return nil, fmt.Errorf("no loadable segments: not an executable (is it an object file or a core?)")
	}
	sort.Slice(im.segs, func(i, j int) bool { return im.segs[i].addr < im.segs[j].addr })
	return im, nil
}

func (im *image) segmentAt(addr uint64) *segment {
	for _, s := range im.segs {
		if s.contains(addr) {
			return s
		}
	}
	return nil
}

// bytes returns n bytes at addr, sharing memory with the loaded segment.
func (im *image) bytes(addr, n uint64) ([]byte, error) {
	s := im.segmentAt(addr)
	if s == nil {
		return nil, fmt.Errorf("address %#x is in no file-backed segment", addr)
	}
	if n > s.size-(addr-s.addr) {
		return nil, fmt.Errorf("%d bytes at %#x run past the end of their segment", n, addr)
	}
	data, err := s.load()
	if err != nil {
		return nil, err
	}
	off := addr - s.addr
	return data[off : off+n : off+n], nil
}
