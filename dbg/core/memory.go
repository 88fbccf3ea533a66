package core

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/gorigin-dev/gorigin/dbg"
)

// errNotInCore is the error of a read of memory that neither the core nor a mapped file holds.
var errNotInCore = errors.New("address not in the core")

// mappedFile is a file mapped by the process, opened on first use.
type mappedFile struct {
	f    *os.File
	size int64
	err  error
}

// ReadBatch fills every region from the core's segments and, for memory the core left
// out, from the files the process had mapped there. Regions that neither holds are
// reported in a *dbg.ReadError; the others are filled.
func (c *Core) ReadBatch(regions []dbg.Region) error {
	var failed []int
	var first error
	for i, r := range regions {
		if err := c.read(r.Addr, r.Buf); err != nil {
			failed = append(failed, i)
			if first == nil {
				first = err
			}
		}
	}
	if len(failed) > 0 {
		return &dbg.ReadError{Failed: failed, Err: first}
	}
	return nil
}

// read fills buf from addr on, piece by piece: each piece comes from the core when a
// segment holds it, else from a mapped file.
func (c *Core) read(addr uint64, buf []byte) error {
	for len(buf) > 0 {
		n, err := c.readPiece(addr, buf)
		if err != nil {
			return err
		}
		addr += uint64(n)
		buf = buf[n:]
	}
	return nil
}

func (c *Core) readPiece(addr uint64, buf []byte) (int, error) {
	if s, ok := c.segmentAt(addr); ok && addr-s.vaddr < s.filesz {
		n := min(uint64(len(buf)), s.filesz-(addr-s.vaddr))
		if _, err := c.f.ReadAt(buf[:n], int64(s.off+(addr-s.vaddr))); err != nil {
			return 0, fmt.Errorf("read core at %#x: %w", addr, err)
		}
		return int(n), nil
	}
	m, ok := c.fileAt(addr)
	if !ok {
		return 0, fmt.Errorf("%#x: %w", addr, errNotInCore)
	}
	n := min(uint64(len(buf)), m.end-addr)
	if next, ok := c.nextInCore(addr); ok {
		n = min(n, next-addr) // the core's copy wins where there is one
	}
	if err := c.readFile(m.path, m.offset+(addr-m.start), buf[:n]); err != nil {
		return 0, fmt.Errorf("%#x is not in the core and %w", addr, err)
	}
	return int(n), nil
}

// segmentAt is the PT_LOAD whose memory holds addr.
func (c *Core) segmentAt(addr uint64) (segment, bool) {
	i := sort.Search(len(c.loads), func(i int) bool { return c.loads[i].vaddr > addr }) - 1
	if i < 0 || addr-c.loads[i].vaddr >= c.loads[i].memsz {
		return segment{}, false
	}
	return c.loads[i], true
}

// nextInCore is the lowest address above addr whose bytes the core holds.
func (c *Core) nextInCore(addr uint64) (uint64, bool) {
	i := sort.Search(len(c.loads), func(i int) bool { return c.loads[i].vaddr > addr })
	for ; i < len(c.loads); i++ {
		if c.loads[i].filesz > 0 {
			return c.loads[i].vaddr, true
		}
	}
	return 0, false
}

// fileAt is the file mapping that holds addr.
func (c *Core) fileAt(addr uint64) (fileMapping, bool) {
	fs := c.readFiles
	i := sort.Search(len(fs), func(i int) bool { return fs[i].start > addr }) - 1
	if i < 0 || addr >= fs[i].end {
		return fileMapping{}, false
	}
	return fs[i], true
}

// readFile reads a mapped file at off. Reading past its end is an error: the process
// would have taken SIGBUS there.
func (c *Core) readFile(path string, off uint64, buf []byte) error {
	c.mu.Lock()
	mf := c.files[path]
	if mf == nil {
		mf = &mappedFile{}
		name := strings.TrimSuffix(path, " (deleted)")
		if mf.f, mf.err = openRegular(name); mf.err == nil {
			if fi, err := mf.f.Stat(); err == nil {
				mf.size = fi.Size()
			} else {
				mf.err = err
			}
		}
		c.files[path] = mf
	}
	c.mu.Unlock()
	if mf.err != nil {
		return fmt.Errorf("its mapped file cannot be read: %w", mf.err)
	}
	if off > uint64(mf.size) || uint64(len(buf)) > uint64(mf.size)-off {
		return fmt.Errorf("lies past the end of its mapped file %s (%d bytes): has the file changed since?", path, mf.size)
	}
	if _, err := mf.f.ReadAt(buf, int64(off)); err != nil {
		return fmt.Errorf("its mapped file %s: %w", path, err)
	}
	return nil
}

// inCore reads [addr, addr+len(buf)) from the core's own segments only (never from a
// file), reporting whether the core holds all of it.
func (c *Core) inCore(addr uint64, buf []byte) bool {
	for len(buf) > 0 {
		s, ok := c.segmentAt(addr)
		if !ok || addr-s.vaddr >= s.filesz {
			return false
		}
		n := min(uint64(len(buf)), s.filesz-(addr-s.vaddr))
		if _, err := c.f.ReadAt(buf[:n], int64(s.off+(addr-s.vaddr))); err != nil {
			return false
		}
		addr += n
		buf = buf[n:]
	}
	return true
}
