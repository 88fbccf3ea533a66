package leaks

import (
	"bufio"
	"compress/gzip"
	"math/rand"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/native"
	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// TestDirtyRegions checks, on random plans and page maps, that the regions read again
// are exactly the bytes of the plan on pages not present-and-clean (or of runs the warm
// copy could not read), each once, and that each region's buffer is the copy's own bytes
// for its addresses: the oracle is the same rule applied byte by byte.
func TestDirtyRegions(t *testing.T) {
	const ps = 4096
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 300; trial++ {
		// Runs: sorted, not overlapping, of any alignment, some adjacent, some far apart.
		var runs []chunk
		addr := uint64(0xc000000000) + uint64(rng.Intn(3*ps))
		for n := 1 + rng.Intn(6); n > 0; n-- {
			size := 1 + rng.Intn(5*ps)
			runs = append(runs, chunk{addr, make([]byte, size)})
			addr += uint64(size)
			switch rng.Intn(3) {
			case 1:
				addr += uint64(rng.Intn(3 * ps))
			case 2:
				addr += uint64(rng.Intn(pagemapGroup*3)) * ps
			}
		}
		entry := map[uint64]uint64{}
		pageEntry := func(p uint64) uint64 {
			if e, ok := entry[p]; ok {
				return e
			}
			// Clean, written, the zero page (present, not exclusive), absent, swapped.
			e := []uint64{pmPresent | pmExclusive, pmPresent | pmExclusive | pmSoftDirty, pmPresent, 0, 1 << 62}[rng.Intn(5)]
			entry[p] = e
			return e
		}
		stale := map[int]bool{}
		if rng.Intn(4) == 0 {
			stale[rng.Intn(len(runs))] = true
		}
		reads := 0
		regions, runOf, n, err := dirtyRegions(runs, stale, ps, func(lo, hi uint64) ([][2]uint64, error) {
			reads++
			if lo%ps != 0 || hi%ps != 0 || hi <= lo {
				t.Fatalf("asked about %#x-%#x", lo, hi)
			}
			return dirtyFromEntries(lo, hi, ps, func(first uint64, out []uint64) error {
				for i := range out {
					out[i] = pageEntry(first + uint64(i))
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		// Oracle: byte by byte.
		want := map[uint64]bool{}
		for i, c := range runs {
			for a := c.addr; a < c.end(); a++ {
				if e := pageEntry(a / ps); stale[i] || e&pmPresent == 0 || e&pmSoftDirty != 0 || e&pmExclusive == 0 {
					want[a] = true
				}
			}
		}
		got := map[uint64]bool{}
		var total uint64
		for k, r := range regions {
			c := runs[runOf[k]]
			if r.Addr < c.addr || r.Addr+uint64(len(r.Buf)) > c.end() || len(r.Buf) == 0 {
				t.Fatalf("trial %d: region %#x+%d outside its run %#x+%d", trial, r.Addr, len(r.Buf), c.addr, len(c.b))
			}
			if &r.Buf[0] != &c.b[r.Addr-c.addr] || cap(r.Buf) != len(r.Buf) {
				t.Fatalf("trial %d: region %#x+%d is not the copy's own bytes", trial, r.Addr, len(r.Buf))
			}
			for a := r.Addr; a < r.Addr+uint64(len(r.Buf)); a++ {
				if got[a] {
					t.Fatalf("trial %d: %#x read again twice", trial, a)
				}
				got[a] = true
			}
			total += uint64(len(r.Buf))
		}
		if len(got) != len(want) || total != n {
			t.Fatalf("trial %d: %d bytes read again (said %d), want %d", trial, len(got), n, len(want))
		}
		for a := range want {
			if !got[a] {
				t.Fatalf("trial %d: %#x (page entry %#x) not read again", trial, a, pageEntry(a/ps))
			}
		}
		if reads > len(runs) {
			t.Fatalf("trial %d: %d page lookups for %d runs", trial, reads, len(runs))
		}
	}
}

// kernelConfig answers whether the running kernel's /proc/config.gz sets option (ok
// false: the kernel does not publish its configuration).
func kernelConfig(t *testing.T, option string) (set, ok bool) {
	f, err := os.Open("/proc/config.gz")
	if err != nil {
		return false, false
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(z)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), option+"=") {
			return strings.TrimPrefix(sc.Text(), option+"=") == "y", true
		}
	}
	return false, true
}

// TestSoftDirtyProbe checks the probe against the kernel's own configuration, where the
// kernel publishes it: a kernel without CONFIG_MEM_SOFT_DIRTY accepts clear_refs and
// reports every page clean, which must never be taken for tracking.
func TestSoftDirtyProbe(t *testing.T) {
	set, ok := kernelConfig(t, "CONFIG_MEM_SOFT_DIRTY")
	if !ok {
		t.Skip("the kernel publishes no /proc/config.gz to check the probe against")
	}
	why := probeSoftDirty()
	t.Logf("CONFIG_MEM_SOFT_DIRTY=%v; probe: %q", set, why)
	if set && why != "" {
		t.Errorf("the kernel tracks soft-dirty pages, but the probe says %q", why)
	}
	if !set && why == "" {
		t.Errorf("the kernel has no CONFIG_MEM_SOFT_DIRTY, but the probe says it tracks soft-dirty pages")
	}
}

// TestSoftDirtyRecopy copies a buffer of this process after clearing its soft-dirty
// bits, writes some of its pages, and checks that the regions read again from the real
// page map are at least the pages written, and that reading them again makes the copy
// equal to the buffer (the oracle: the buffer itself).
func TestSoftDirtyRecopy(t *testing.T) {
	if why := softDirtyMissing(); why != "" {
		t.Skip(why)
	}
	ps := os.Getpagesize()
	const pages = 64
	m, err := syscall.Mmap(-1, 0, pages*ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	for i := range m {
		m[i] = byte(i)
	}
	base := uint64(uintptr(unsafe.Pointer(&m[0])))
	// The plan: two runs with odd ends, as spans of the heap would be.
	runs := []chunk{{base + 100, make([]byte, 20*ps)}, {base + uint64(30*ps), make([]byte, 30*ps-7)}}
	if err := clearSoftDirty(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	for _, c := range runs {
		copy(c.b, m[c.addr-base:])
	}
	written := []int{0, 5, 19, 20, 31, 59}
	for _, p := range written {
		m[p*ps+ps/2]++
	}
	pm, err := openPagemap(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	regions, _, n, err := dirtyRegions(runs, nil, uint64(ps), func(lo, hi uint64) ([][2]uint64, error) { return pm.dirty(lo, hi, uint64(ps)) })
	if err != nil {
		t.Fatal(err)
	}
	read := map[int]bool{}
	for _, r := range regions {
		for a := r.Addr; a < r.Addr+uint64(len(r.Buf)); a += uint64(ps) {
			read[int((a-base)/uint64(ps))] = true
		}
		copy(r.Buf, m[r.Addr-base:])
	}
	for _, p := range written {
		off, in := uint64(p*ps+ps/2), false
		for _, c := range runs {
			in = in || (off >= c.addr-base && off < c.end()-base)
		}
		if in && !read[p] {
			t.Errorf("page %d was written after the copy but is not read again", p)
		}
	}
	for i, c := range runs {
		if string(c.b) != string(m[c.addr-base:c.end()-base]) {
			t.Errorf("run %d differs from the memory after reading %d bytes again", i, n)
		}
	}
	t.Logf("%d of %d bytes read again", n, len(runs[0].b)+len(runs[1].b))
}

// TestPagemapScanAgreesWithEntries maps pages of this process and leaves some untouched
// (not present), only reads others (the zero page) and writes the rest: PAGEMAP_SCAN and
// the page map's entries must both name exactly the untouched and the read-only pages as
// possibly changed (the oracle: what the test did to each page).
func TestPagemapScanAgreesWithEntries(t *testing.T) {
	ps := os.Getpagesize()
	const pages = 96
	m, err := syscall.Mmap(-1, 0, pages*ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	syscall.Madvise(m, 15) // MADV_NOHUGEPAGE: page by page
	rng := rand.New(rand.NewSource(2))
	want := map[int]bool{}
	sum := 0
	for p := 0; p < pages; p++ {
		switch rng.Intn(3) {
		case 0: // untouched
			want[p] = true
		case 1:
			sum += int(m[p*ps]) // read: maps the zero page
			want[p] = true
		case 2:
			m[p*ps] = 1
		}
	}
	runtime.KeepAlive(sum)
	if softDirtyMissing() == "" {
		// The fresh mapping counts as soft-dirty all over until the bits are cleared.
		if err := clearSoftDirty(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	pm, err := openPagemap(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	lo := uint64(uintptr(unsafe.Pointer(&m[0])))
	hi := lo + pages*uint64(ps)
	fromEntries, err := dirtyFromEntries(lo, hi, uint64(ps), pm.read)
	if err != nil {
		t.Fatal(err)
	}
	check := func(how string, ds [][2]uint64) {
		got := map[int]bool{}
		for _, d := range ds {
			for a := d[0]; a < d[1]; a += uint64(ps) {
				got[int((a-lo)/uint64(ps))] = true
			}
		}
		for p := 0; p < pages; p++ {
			if got[p] != want[p] {
				t.Errorf("%s: page %d possibly changed %v, want %v", how, p, got[p], want[p])
			}
		}
	}
	check("the entries", fromEntries)
	fromScan, err := pm.scan(lo, hi)
	if err == syscall.ENOTTY || err == syscall.EINVAL {
		t.Skipf("the kernel has no PAGEMAP_SCAN (Linux 6.7+): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	check("PAGEMAP_SCAN", fromScan)
}

// TestSoftDirtyRecopyOnLiveTarget runs a whole session on a live target with the page
// lookup replaced by an exact one — a page counts as written when the frozen target's
// bytes differ from the warm copy's — so that the re-copy of only some pages runs on any
// kernel; the warm copy is spoiled on some pages, as the target's writes would make it
// stale. While frozen, after the session's copy, every run of the copy must equal the
// target's memory read afresh (the oracle: the frozen target itself); the session must
// have read again less than it copied, and its verdicts must be those of marking while
// frozen (Analyze) on the same target.
func TestSoftDirtyRecopyOnLiveTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a target")
	}
	testenv.NeedPtrace(t)
	cmd := startQueued(t)
	p, err := native.Attach(cmd.Process.Pid, native.Options{MaxFreeze: 60 * time.Second})
	if err != nil {
		t.Skipf("cannot attach: %v", err)
	}
	defer p.Close()
	want, err := Analyze(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Begin(p, Options{Mode: ModeCopy})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ps := uint64(os.Getpagesize())
	lookups := 0
	s.recopy, s.recopyWhy = RecopySoftDirty, ""
	s.changed = func(lo, hi uint64) ([][2]uint64, error) {
		lookups++
		var out [][2]uint64
		now, was := make([]byte, ps), make([]byte, ps)
		for a := lo; a < hi; a += ps {
			// Pages the copy holds only in part compare on the part it holds.
			clear(was)
			n := 0
			for off := uint64(0); off < ps; off++ {
				if s.im.fill(a+off, was[off:off+1]) {
					n++
				}
			}
			if n == 0 {
				continue // not in the copy: nothing to refresh
			}
			if p.ReadBatch([]dbg.Region{{Addr: a, Buf: now}}) == nil {
				same := true
				for off := uint64(0); off < ps; off++ {
					if s.im.fill(a+off, make([]byte, 1)) && now[off] != was[off] {
						same = false
						break
					}
				}
				if same {
					continue
				}
			}
			if k := len(out); k > 0 && out[k-1][1] == a {
				out[k-1][1] = a + ps
			} else {
				out = append(out, [2]uint64{a, a + ps})
			}
		}
		return out, nil
	}
	// An idle target writes little between the two copies: stand in for its writes by
	// spoiling the warm copy on every third page, which the lookup then finds changed.
	spoiled := 0
	for _, c := range s.im.runs {
		for a := (c.addr + ps - 1) / ps * ps; a < c.end(); a += 3 * ps {
			c.b[a-c.addr] ^= 0xff
			spoiled++
		}
	}
	if err := s.Freeze(); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.im.runs {
		now := make([]byte, len(c.b))
		if err := p.ReadBatch([]dbg.Region{{Addr: c.addr, Buf: now}}); err != nil {
			t.Fatalf("read %#x+%d again: %v", c.addr, len(c.b), err)
		}
		for off := range now {
			if now[off] != c.b[off] {
				t.Fatalf("the copy at %#x holds %#x, the frozen target %#x", c.addr+uint64(off), c.b[off], now[off])
			}
		}
	}
	if err := s.Thaw(); err != nil {
		t.Fatal(err)
	}
	res, err := s.Finish()
	if err != nil {
		t.Fatal(err)
	}
	st := res.Stats
	t.Logf("copied %d KB, read again %d KB (%s) of which %d pages spoiled, %d page lookups", st.Copied>>10, st.Recopied>>10, st.Recopy, spoiled, lookups)
	if st.Recopy != RecopySoftDirty || lookups == 0 {
		t.Fatalf("re-copy %q (%s) after %d lookups, want %s", st.Recopy, st.RecopyWhy, lookups, RecopySoftDirty)
	}
	if st.Recopied < uint64(spoiled) || st.Recopied >= st.Copied {
		t.Errorf("read again %d of %d bytes, with %d pages spoiled and the others unchanged", st.Recopied, st.Copied, spoiled)
	}
	for id, w := range want.Verdicts {
		if g, ok := res.Verdicts[id]; !ok || g.Leak != w.Leak {
			t.Errorf("goroutine %d: %v after the partial re-copy, %v marking while frozen (%s)", id, g.Leak, w.Leak, w.Why)
		}
	}
	if len(res.Verdicts) != len(want.Verdicts) {
		t.Errorf("%d verdicts after the partial re-copy, %d marking while frozen", len(res.Verdicts), len(want.Verdicts))
	}
}

// TestSoftDirtyLockIsExclusive: while one session holds a process's soft-dirty tracking,
// a second cannot take it (its clear would hide the first one's writes); another process
// can be tracked meanwhile, and the lock is free again once released.
func TestSoftDirtyLockIsExclusive(t *testing.T) {
	pid := os.Getpid()
	first, err := lockSoftDirty(pid)
	if err != nil {
		t.Fatal(err)
	}
	if second, err := lockSoftDirty(pid); err == nil {
		second.Close()
		first.Close()
		t.Fatal("a second lock on the same process was granted")
	}
	other, err := lockSoftDirty(pid + 1<<22) // beyond pid_max: no process, no lock
	if err != nil {
		t.Fatalf("a lock on another process: %v", err)
	}
	other.Close()
	first.Close()
	again, err := lockSoftDirty(pid)
	if err != nil {
		t.Fatalf("the lock after release: %v", err)
	}
	again.Close()
}
