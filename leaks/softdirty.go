package leaks

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"github.com/gorigin-dev/gorigin/dbg"
)

// Soft-dirty page tracking (Linux, CONFIG_MEM_SOFT_DIRTY), as CRIU's iterative pre-dump
// uses it: writing "4" to /proc/PID/clear_refs clears the soft-dirty bit of every page of
// the process and write-protects the pages; the first write to a page afterwards faults
// and sets the bit again (bit 55 of the page's /proc/PID/pagemap entry). Begin clears the
// bits before the warm copy; while frozen, copyFrozen reads the target's pagemap (a read)
// and copies again only the pages written since, or not present now. Where the kernel
// does not track soft-dirty pages, it accepts the clear and reports every page clean:
// softDirtyMissing tests that on a page of gorigin's own before trusting the bits.

// Recopy modes: how the frozen copy refreshed the warm one.
const (
	// RecopySoftDirty read again only the pages the target wrote since the warm copy.
	RecopySoftDirty = "soft-dirty"
	// RecopyFull read the whole planned copy again.
	RecopyFull = "full"
)

// Bits of a /proc/PID/pagemap entry (Documentation/admin-guide/mm/pagemap.rst).
const (
	pmSoftDirty = 1 << 55
	pmExclusive = 1 << 56 // mapped by this process alone
	pmPresent   = 1 << 63
)

// pageClean says a page's entry shows it unchanged since the soft-dirty bits were
// cleared: present, not written, and mapped by the target alone. A page the target
// released (madvise) and has only read since maps the shared zero page: present and
// not soft-dirty, but not exclusive, and its content is no longer what was copied.
func pageClean(e uint64) bool {
	return e&(pmPresent|pmExclusive|pmSoftDirty) == pmPresent|pmExclusive
}

var softDirty struct {
	once sync.Once
	why  string
}

// softDirtyMissing says why soft-dirty tracking cannot be used ("" when it can), from a
// test on one page of gorigin's own memory, made once.
func softDirtyMissing() string {
	softDirty.once.Do(func() { softDirty.why = probeSoftDirty() })
	return softDirty.why
}

const noSoftDirty = "the kernel does not track soft-dirty pages (CONFIG_MEM_SOFT_DIRTY)"

// probeSoftDirty clears the soft-dirty bits of gorigin itself and checks that a page
// reads clean afterwards and dirty once written.
func probeSoftDirty() string {
	ps := os.Getpagesize()
	m, err := syscall.Mmap(-1, 0, ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return fmt.Sprintf("map a page to test soft-dirty tracking: %v", err)
	}
	defer syscall.Munmap(m)
	m[0] = 1
	self := os.Getpid()
	if err := clearSoftDirty(self); err != nil {
		return err.Error()
	}
	pm, err := openPagemap(self)
	if err != nil {
		return err.Error()
	}
	defer pm.Close()
	addr := uint64(uintptr(unsafe.Pointer(&m[0])))
	var e [1]uint64
	if err := pm.read(addr/uint64(ps), e[:]); err != nil {
		return err.Error()
	}
	if !pageClean(e[0]) {
		return noSoftDirty + " or exclusively mapped pages"
	}
	m[0] = 2
	runtime.KeepAlive(m)
	if err := pm.read(addr/uint64(ps), e[:]); err != nil {
		return err.Error()
	}
	if e[0]&pmSoftDirty == 0 {
		return noSoftDirty
	}
	return ""
}

// clearSoftDirty clears the soft-dirty bits of every page of pid.
func clearSoftDirty(pid int) error {
	path := fmt.Sprintf("/proc/%d/clear_refs", pid)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("clear the soft-dirty bits: %w", err)
	}
	_, err = f.Write([]byte("4"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("clear the soft-dirty bits (%s): %w", path, err)
	}
	return nil
}

// pagemap is an open /proc/PID/pagemap.
type pagemap struct {
	f   *os.File
	buf []byte
}

func openPagemap(pid int) (*pagemap, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		return nil, fmt.Errorf("read the page map: %w", err)
	}
	return &pagemap{f: f}, nil
}

func (pm *pagemap) Close() error { return pm.f.Close() }

// read fills out with the entries of the pages from page number first on.
func (pm *pagemap) read(first uint64, out []uint64) error {
	if cap(pm.buf) < 8*len(out) {
		pm.buf = make([]byte, 8*len(out))
	}
	buf := pm.buf[:8*len(out)]
	n, err := pm.f.ReadAt(buf, int64(first*8))
	if n < len(buf) {
		if err == nil {
			err = fmt.Errorf("short read")
		}
		return fmt.Errorf("read the page map at page %#x: %w", first, err)
	}
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(buf[8*i:])
	}
	return nil
}

// pagemapGroup is how many pages apart two runs may start and still have their entries
// read in one go (4 KB of entries).
const pagemapGroup = 512

// dirtyRegions is what of runs (sorted, not overlapping) must be read again: every page
// whose entry (entries fills entries from a page number on) is not pageClean.
// Each region's Buf is the copy's own bytes for it, so that reading them again refreshes
// the copy in place; run[i] is the index in runs of regions[i]. stale runs are read again
// whole (the warm copy could not read them).
func dirtyRegions(runs []chunk, stale map[int]bool, pageSize uint64, entries func(first uint64, out []uint64) error) (regions []dbg.Region, run []int, bytes uint64, err error) {
	add := func(i int, lo, hi uint64) {
		c := runs[i]
		if n := len(regions); n > 0 && run[n-1] == i && regions[n-1].Addr+uint64(len(regions[n-1].Buf)) == lo {
			regions[n-1].Buf = c.b[regions[n-1].Addr-c.addr : hi-c.addr : hi-c.addr]
		} else {
			regions = append(regions, dbg.Region{Addr: lo, Buf: c.b[lo-c.addr : hi-c.addr : hi-c.addr]})
			run = append(run, i)
		}
		bytes += hi - lo
	}
	var buf []uint64
	var first uint64 // page number of buf[0]
	for i := 0; i < len(runs); {
		// A group of runs whose entries are read together.
		lastPage := func(c chunk) uint64 { return (c.addr + uint64(max(len(c.b), 1)) - 1) / pageSize }
		j, last := i+1, lastPage(runs[i])
		for j < len(runs) && runs[j].addr/pageSize <= last+pagemapGroup {
			last = max(last, lastPage(runs[j]))
			j++
		}
		first = runs[i].addr / pageSize
		if n := int(last - first + 1); cap(buf) < n {
			buf = make([]uint64, n)
		} else {
			buf = buf[:n]
		}
		if err := entries(first, buf); err != nil {
			return nil, nil, 0, err
		}
		for ; i < j; i++ {
			c := runs[i]
			if len(c.b) == 0 {
				continue
			}
			if stale[i] {
				add(i, c.addr, c.end())
				continue
			}
			for p := c.addr / pageSize; p*pageSize < c.end(); p++ {
				if pageClean(buf[p-first]) {
					continue
				}
				add(i, max(c.addr, p*pageSize), min(c.end(), (p+1)*pageSize))
			}
		}
	}
	return regions, run, bytes, nil
}
