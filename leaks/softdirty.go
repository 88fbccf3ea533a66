package leaks

import (
	"encoding/binary"
	"fmt"
	"net"
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

// softDirtyOff is the environment variable that turns the soft-dirty re-copy off
// (GORIGIN_LEAKS_SOFTDIRTY=0): for a process whose soft-dirty bits another tool tracks
// (a CRIU pre-dump), which gorigin's clear would disturb and whose clear would hide
// writes from gorigin.
const softDirtyOff = "GORIGIN_LEAKS_SOFTDIRTY"

// trackSoftDirty takes pid's soft-dirty tracking for one session: it holds a lock that
// another gorigin taking the same process's tracking fails on (a second clear between
// this one and the freeze would hide the writes before it), clears the bits and opens
// the page map. It says why not when it cannot.
func trackSoftDirty(pid int) (*pagemap, string) {
	if why := softDirtyMissing(); why != "" {
		return nil, why
	}
	if os.Getenv(softDirtyOff) == "0" {
		return nil, "turned off by " + softDirtyOff + "=0"
	}
	lock, err := lockSoftDirty(pid)
	if err != nil {
		return nil, err.Error()
	}
	pm, err := openPagemap(pid)
	if err == nil {
		err = clearSoftDirty(pid)
	}
	if err != nil {
		if pm != nil {
			pm.Close()
		}
		lock.Close()
		return nil, err.Error()
	}
	pm.lock = lock
	return pm, ""
}

// lockSoftDirty takes the lock on pid's soft-dirty tracking: an abstract unix socket,
// exclusive per process id on the host (its network namespace), released when gorigin
// closes it or exits, with no file to leave behind.
func lockSoftDirty(pid int) (net.Listener, error) {
	l, err := net.Listen("unix", fmt.Sprintf("@gorigin-soft-dirty-%d", pid))
	if err != nil {
		return nil, fmt.Errorf("another gorigin is tracking the soft-dirty pages of pid %d (%w)", pid, err)
	}
	return l, nil
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
	f      *os.File
	buf    []byte
	noScan bool         // the kernel has no PAGEMAP_SCAN (before Linux 6.7)
	lock   net.Listener // trackSoftDirty's lock
}

func openPagemap(pid int) (*pagemap, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		return nil, fmt.Errorf("read the page map: %w", err)
	}
	return &pagemap{f: f}, nil
}

func (pm *pagemap) Close() error {
	if pm.lock != nil {
		pm.lock.Close()
	}
	return pm.f.Close()
}

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

// dirty lists the pages of [lo, hi) (page-aligned) whose content may differ from a copy
// taken after the soft-dirty bits were cleared, as sorted page-aligned ranges: with
// PAGEMAP_SCAN where the kernel has it (the kernel walks the page tables and answers
// ranges, about 2 ms for 550 MB where reading the entries takes 30 ms and more), else
// from the entries.
func (pm *pagemap) dirty(lo, hi, pageSize uint64) ([][2]uint64, error) {
	if !pm.noScan {
		out, err := pm.scan(lo, hi)
		if err != syscall.ENOTTY && err != syscall.EINVAL {
			return out, err
		}
		pm.noScan = true
	}
	return dirtyFromEntries(lo, hi, pageSize, pm.read)
}

// dirtyFromEntries is dirty from the pages' entries: every page not pageClean.
func dirtyFromEntries(lo, hi, pageSize uint64, read func(first uint64, out []uint64) error) ([][2]uint64, error) {
	es := make([]uint64, (hi-lo)/pageSize)
	if err := read(lo/pageSize, es); err != nil {
		return nil, err
	}
	var out [][2]uint64
	for i, e := range es {
		if pageClean(e) {
			continue
		}
		a := lo + uint64(i)*pageSize
		if n := len(out); n > 0 && out[n-1][1] == a {
			out[n-1][1] = a + pageSize
		} else {
			out = append(out, [2]uint64{a, a + pageSize})
		}
	}
	return out, nil
}

// PAGEMAP_SCAN (linux/fs.h): an ioctl on /proc/PID/pagemap that answers the ranges of
// pages in given categories.
const (
	pagemapScan    = 0xc0606610 // _IOWR('f', 16, struct pm_scan_arg)
	pageIsPresent  = 1 << 3
	pageIsPFNZero  = 1 << 5
	pageIsSoftDirt = 1 << 7
)

type pageRegion struct{ start, end, categories uint64 }

type pmScanArg struct {
	size, flags, start, end, walkEnd, vec, vecLen, maxPages uint64
	inverted, mask, anyOf, ret                              uint64
}

// scan is dirty with PAGEMAP_SCAN: the pages soft-dirty, not present, or mapping the
// zero page (a released page read since).
func (pm *pagemap) scan(lo, hi uint64) ([][2]uint64, error) {
	var vec [512]pageRegion
	var out [][2]uint64
	for lo < hi {
		a := pmScanArg{
			size: uint64(unsafe.Sizeof(pmScanArg{})), start: lo, end: hi,
			vec: uint64(uintptr(unsafe.Pointer(&vec[0]))), vecLen: uint64(len(vec)),
			inverted: pageIsPresent, anyOf: pageIsSoftDirt | pageIsPresent | pageIsPFNZero,
			ret: pageIsSoftDirt | pageIsPresent | pageIsPFNZero,
		}
		n, _, e := syscall.Syscall(syscall.SYS_IOCTL, pm.f.Fd(), pagemapScan, uintptr(unsafe.Pointer(&a)))
		runtime.KeepAlive(&vec)
		if e != 0 {
			return nil, e
		}
		if n > uintptr(len(vec)) || a.walkEnd <= lo || a.walkEnd > hi {
			return nil, fmt.Errorf("PAGEMAP_SCAN at %#x answered %d regions up to %#x", lo, n, a.walkEnd)
		}
		for _, r := range vec[:n] {
			if r.start < lo || r.end > a.walkEnd || r.end <= r.start {
				return nil, fmt.Errorf("PAGEMAP_SCAN at %#x answered the range %#x-%#x", lo, r.start, r.end)
			}
			if k := len(out); k > 0 && out[k-1][1] == r.start {
				out[k-1][1] = r.end
			} else {
				out = append(out, [2]uint64{r.start, r.end})
			}
		}
		lo = a.walkEnd
	}
	return out, nil
}

// pagemapGroup is how many pages apart two runs may lie and still have their pages
// looked up together.
const pagemapGroup = 512

// dirtyRegions is what of runs (sorted, not overlapping) must be read again: the bytes
// of the pages dirty names (sorted page-aligned ranges within the page-aligned [lo, hi)
// it is asked about). Each region's Buf is the copy's own bytes for it, so that reading
// them again refreshes the copy in place; run[i] is the index in runs of regions[i].
// stale runs are read again whole (the warm copy could not read them).
func dirtyRegions(runs []chunk, stale map[int]bool, pageSize uint64, dirty func(lo, hi uint64) ([][2]uint64, error)) (regions []dbg.Region, run []int, bytes uint64, err error) {
	add := func(i int, lo, hi uint64) {
		c := runs[i]
		lo, hi = max(lo, c.addr), min(hi, c.end())
		if lo >= hi {
			return
		}
		if n := len(regions); n > 0 && run[n-1] == i && regions[n-1].Addr+uint64(len(regions[n-1].Buf)) == lo {
			regions[n-1].Buf = c.b[regions[n-1].Addr-c.addr : hi-c.addr : hi-c.addr]
		} else {
			regions = append(regions, dbg.Region{Addr: lo, Buf: c.b[lo-c.addr : hi-c.addr : hi-c.addr]})
			run = append(run, i)
		}
		bytes += hi - lo
	}
	pageEnd := func(c chunk) uint64 { return (c.end() + pageSize - 1) / pageSize * pageSize }
	for i := 0; i < len(runs); {
		// A group of runs whose pages are looked up together.
		j, hi := i+1, pageEnd(runs[i])
		for j < len(runs) && runs[j].addr <= hi+pagemapGroup*pageSize {
			hi = max(hi, pageEnd(runs[j]))
			j++
		}
		lo := runs[i].addr / pageSize * pageSize
		ds, err := dirty(lo, hi)
		if err != nil {
			return nil, nil, 0, err
		}
		// Both lists are sorted: walk them together.
		k := 0
		for ; i < j; i++ {
			c := runs[i]
			if stale[i] {
				add(i, c.addr, c.end())
				continue
			}
			for k > 0 && ds[k-1][1] > c.addr {
				k-- // a dirty range may span the end of the previous run
			}
			for ; k < len(ds) && ds[k][0] < c.end(); k++ {
				add(i, ds[k][0], ds[k][1])
			}
		}
	}
	return regions, run, bytes, nil
}
