package leaks

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/gstruct"
)

// Modes of the marking.
const (
	// ModeCopy copies, while the target is frozen, the memory the marking reads (heap
	// spans that can hold pointers, stacks, globals, the span tables) and marks on the
	// copy after the thaw: the freeze lasts as long as the copy.
	ModeCopy = "copy"
	// ModeFrozen marks while the target is frozen: for a core (nothing runs), or when the
	// copy would not fit in the memory gorigin may use.
	ModeFrozen = "frozen"
)

// ErrNoRoom is returned (wrapped) by Begin when the copy does not fit in the memory
// gorigin may use and marking while frozen would outlast Options.MaxFreeze.
var ErrNoRoom = dbg.NewInputError("not enough memory for the copy of the target's heap")

// markRate is how fast marking while frozen goes, in bytes of pointer-holding heap a
// second (BenchmarkLeaks, 2 cores: 1,092 MB in 17.5 s): the expected freeze of ModeFrozen.
const markRate = 60 << 20

// Session is one leak analysis of a live target in one freeze, shared with the snapshot
// the verdicts are attached to: Begin plans (and, in ModeCopy, warms) the copy while the
// target runs; Session is itself a dbg.Target whose Freeze copies (or marks) and whose
// Thaw lets the target go, so that capture.Take on it reads the goroutines' states from
// the same moment the verdicts come from; Finish marks and classifies.
type Session struct {
	t     dbg.Target
	a     *analysis
	im    *image
	mode  string
	state int // running, frozen, thawed
	start time.Time
	since time.Time // when frozen
	froze time.Duration
	err   error // what went wrong in Freeze

	// How the frozen copy refreshes the warm one (ModeCopy): RecopySoftDirty or
	// RecopyFull, why not the first, the bytes read again, and the runs of the plan
	// the warm copy could not read (read again whole).
	recopy, recopyWhy string
	recopied          uint64
	stale             map[int]bool
	// changed lists the pages written since the warm copy (RecopySoftDirty): from the
	// target's page map, opened before the freeze and closed at the thaw.
	changed func(lo, hi uint64) ([][2]uint64, error)
	pagemap *pagemap
}

const (
	running = iota
	frozen
	thawed
)

// Begin reads t's layouts and, in ModeCopy, plans the copy and copies once while t runs
// (the second copy, frozen, then goes at the speed of already-mapped memory).
func Begin(t dbg.Target, opt Options) (*Session, error) {
	s := &Session{t: t, start: time.Now(), mode: opt.Mode}
	if s.mode != ModeFrozen {
		// The test of soft-dirty tracking clears gorigin's own bits, which write-protects
		// its pages: before it has touched the memory it fills while the target is frozen.
		softDirtyMissing()
	}
	progress := func(stage string, done, total int) {
		if opt.Progress != nil {
			opt.Progress(stage, done, total)
		}
	}
	exe := t.Exe()
	progress("reading the executable", 0, 0)
	rt, err := gstruct.OpenWith(exe, gstruct.OpenOptions{DebugFile: opt.DebugFile})
	if err != nil {
		return nil, err
	}
	l, err := readLayout(exe, rt)
	if err != nil {
		return nil, err
	}
	maps, err := t.Mappings()
	if err != nil {
		return nil, err
	}
	if err := rt.Bind(t, maps, exe); err != nil {
		return nil, err
	}
	s.a = &analysis{t: t, m: t, l: l, rt: rt, maps: maps, bias: rt.LoadBias(), progress: progress, types: newTypeNamer(exe, l, rt.LoadBias()), frames: newFrameMaps(exe, l)}
	if s.mode == ModeFrozen {
		return s, nil
	}
	if s.mode != "" && s.mode != ModeCopy {
		return nil, fmt.Errorf("leak analysis mode %q: use %s or %s", s.mode, ModeCopy, ModeFrozen)
	}
	// Plan from the heap as it is now; Freeze reads it again and copies what changed.
	progress("planning the copy", 0, 0)
	var spans []span
	ranges := s.a.globals()
	if h, err := readHeap(t, l, s.a.bias); err == nil {
		spans = h.spans
		ranges = append(ranges, h.meta...) // small, and read again first thing frozen
	}
	s.a.scratch = newSpanScratch(len(spans) + len(spans)/4 + 1024)
	for _, b := range s.a.pointerBitsAt(t, spans) {
		ranges = append(ranges, [2]uint64{b.addr, b.addr + uint64(b.n)}) // the objects' pointer maps
	}
	var scan uint64
	for _, sp := range spans {
		if !sp.noscan {
			ranges = append(ranges, [2]uint64{sp.base, sp.base + sp.nelems*sp.elemsize})
			scan += sp.nelems * sp.elemsize
		}
	}
	runs := mergeRanges(ranges)
	var total uint64
	for _, r := range runs {
		total += r[1] - r[0]
	}
	// The span tables, allocation bits and marks, the goroutines, stacks and what the
	// snapshot reads, about a quarter of the copy; 384 MB for gorigin itself (its read
	// buffers, and the address space its own heap reserves as it grows).
	need := total + total/4 + uint64(len(spans))*uint64(l.spanSize+64) + 384<<20
	// Marking while frozen needs the tables and marks, and gorigin itself, but no copy.
	frozenNeed := uint64(len(spans))*uint64(l.spanSize+64) + 384<<20
	if room, limit := memoryRoom(); need > room {
		expect := time.Duration(float64(scan) / markRate * float64(time.Second)).Round(100 * time.Millisecond)
		if frozenNeed > room {
			return nil, fmt.Errorf("the leak analysis needs about %d MB (%d MB marking while the target is frozen), and %s leaves gorigin %d MB: give gorigin more memory: %w",
				need>>20, frozenNeed>>20, limit, room>>20, ErrNoRoom)
		}
		if s.mode == ModeCopy || (opt.MaxFreeze > 0 && expect > opt.MaxFreeze) {
			return nil, fmt.Errorf("the copy of the target's pointer-holding memory needs about %d MB, and %s leaves gorigin %d MB; marking while frozen instead would stop the target for about %v (over --max-freeze %v): give gorigin more memory or allow a longer freeze with --max-freeze: %w",
				need>>20, limit, room>>20, max(expect, 100*time.Millisecond), opt.MaxFreeze, ErrNoRoom)
		}
		s.mode = ModeFrozen
		s.a.warn = append(s.a.warn, fmt.Sprintf("the copy of the target's pointer-holding memory needs about %d MB, and %s leaves gorigin %d MB: marked while the target was frozen instead, expected to stop it for about %v",
			need>>20, limit, room>>20, max(expect, 100*time.Millisecond)))
		return s, nil
	}
	s.mode = ModeCopy
	s.im = &image{}
	buf, free := allocBuf(int(total))
	s.im.free = append(s.im.free, free)
	regions := make([]dbg.Region, 0, len(runs))
	for _, r := range runs {
		n := int(r[1] - r[0])
		s.im.runs = append(s.im.runs, chunk{r[0], buf[:n:n]})
		regions = append(regions, dbg.Region{Addr: r[0], Buf: buf[:n:n]})
		buf = buf[n:]
	}
	s.im.bytes = total
	// Soft-dirty bits cleared before the warm copy mark every page the target writes
	// from now on: the frozen copy reads only those again.
	s.recopy = RecopyFull
	if pm, why := trackSoftDirty(t.Pid()); pm == nil {
		s.recopyWhy = why
	} else {
		ps := uint64(os.Getpagesize())
		s.recopy, s.pagemap = RecopySoftDirty, pm
		s.changed = func(lo, hi uint64) ([][2]uint64, error) { return pm.dirty(lo, hi, ps) }
	}
	progress("copying the heap while the target runs", 0, 0)
	// Warm: what fails now is read again, frozen.
	if err := t.ReadBatch(regions); err != nil {
		var re *dbg.ReadError
		if !errors.As(err, &re) {
			s.recopy, s.recopyWhy = RecopyFull, fmt.Sprintf("the copy while the target ran failed: %v", err)
		} else {
			s.stale = map[int]bool{}
			for _, i := range re.Failed {
				s.stale[i] = true
			}
		}
	}
	return s, nil
}

// globals are the executable's .data and .bss (load addresses).
func (a *analysis) globals() [][2]uint64 {
	var out [][2]uint64
	for _, p := range a.l.pointerful {
		out = append(out, [2]uint64{p[0] + a.bias, p[1] + a.bias})
	}
	return out
}

// mergeRanges sorts ranges and merges the overlapping and adjacent ones.
func mergeRanges(rs [][2]uint64) [][2]uint64 {
	slices.SortFunc(rs, func(x, y [2]uint64) int {
		switch {
		case x[0] < y[0]:
			return -1
		case x[0] > y[0]:
			return 1
		}
		return 0
	})
	var out [][2]uint64
	for _, r := range rs {
		if r[1] <= r[0] {
			continue
		}
		if n := len(out); n > 0 && r[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// Mode is how the marking runs: ModeCopy or ModeFrozen.
func (s *Session) Mode() string { return s.mode }

// Freeze stops the target and, in ModeCopy, copies the memory the marking reads (the
// planned copy again, then whatever else the analysis needs); in ModeFrozen it marks.
func (s *Session) Freeze() error {
	if s.state != running {
		return nil
	}
	if err := s.t.Freeze(); err != nil {
		return err
	}
	s.state, s.since = frozen, time.Now()
	if s.mode == ModeFrozen {
		s.err = s.a.setup()
		if s.err == nil {
			s.err = s.a.mark()
		}
		return s.err
	}
	s.err = s.copyFrozen()
	return s.err
}

func (s *Session) copyFrozen() error {
	im, a := s.im, s.a
	phase := capture.Tracer("leaks (frozen)")
	regions, runOf := s.recopyRegions()
	phase("planned the copy again (%s): %d KB in %d regions", s.recopy, s.recopied>>10, len(regions))
	err := s.t.ReadBatch(regions)
	phase("read them")
	if err != nil {
		var re *dbg.ReadError
		if !errors.As(err, &re) {
			return fmt.Errorf("copy the target's heap: %w", err)
		}
		bad := map[int]bool{} // runs with a part the freeze could not read
		for _, i := range re.Failed {
			bad[runOf[i]] = true
		}
		kept := im.runs[:0]
		for i, c := range im.runs {
			if !bad[i] {
				kept = append(kept, c)
			}
		}
		im.runs = kept
	}
	im.live = s.t
	a.m = im
	return a.collect(im)
}

// recopyRegions is what the frozen copy reads again, and the run of the plan each
// region belongs to: the pages written since the warm copy (RecopySoftDirty), or the
// whole plan when the page map cannot tell.
func (s *Session) recopyRegions() ([]dbg.Region, []int) {
	im := s.im
	if s.recopy == RecopySoftDirty {
		regions, runOf, n, err := dirtyRegions(im.runs, s.stale, uint64(os.Getpagesize()), s.changed)
		if err == nil {
			s.recopied = n
			return regions, runOf
		}
		s.recopy, s.recopyWhy = RecopyFull, fmt.Sprintf("look up the pages written since the copy made while it ran: %v", err)
	}
	regions := make([]dbg.Region, len(im.runs))
	runOf := make([]int, len(im.runs))
	s.recopied = 0
	for i, c := range im.runs {
		regions[i], runOf[i] = dbg.Region{Addr: c.addr, Buf: c.b}, i
		s.recopied += uint64(len(c.b))
	}
	return regions, runOf
}

func (s *Session) closePagemap() {
	if s.pagemap != nil {
		s.pagemap.Close()
		s.pagemap = nil
	}
}

// Thaw lets the target run again; from then on reads are served from the copy only.
func (s *Session) Thaw() error {
	if s.state != frozen {
		return s.t.Thaw()
	}
	err := s.t.Thaw()
	s.state = thawed
	s.closePagemap()
	s.froze = time.Since(s.since)
	if ft, ok := s.t.(interface{ LastFreeze() time.Duration }); ok && ft.LastFreeze() > 0 {
		s.froze = ft.LastFreeze()
	}
	if s.im != nil {
		s.im.live = nil
	}
	return err
}

// Finish marks on the copy (ModeCopy) and classifies every goroutine. The target must
// have been frozen and thawed.
func (s *Session) Finish() (*Result, error) {
	if s.state == running {
		return nil, errors.New("leak analysis: the target was never frozen")
	}
	defer s.a.types.close()
	if s.err != nil {
		return nil, s.err
	}
	if s.mode == ModeCopy {
		defer s.im.release()
		if err := s.a.prepare("leaks (after the thaw)"); err != nil {
			return nil, err
		}
		if err := s.a.mark(); err != nil {
			return nil, err
		}
	}
	res := s.a.result()
	res.Stats.Freeze = s.froze
	res.Stats.Total = time.Since(s.start)
	res.Stats.Mode = s.mode
	if s.im != nil {
		res.Stats.Copied = s.im.bytes
		res.Stats.Recopy, res.Stats.RecopyWhy, res.Stats.Recopied = s.recopy, s.recopyWhy, s.recopied
	}
	return res, nil
}

// ReadBatch reads the target while it runs, then the frozen target through the copy,
// then the copy alone.
func (s *Session) ReadBatch(regions []dbg.Region) error {
	if s.state == running || s.im == nil {
		return s.t.ReadBatch(regions)
	}
	return s.im.ReadBatch(regions)
}

// Pid, Exe, Mappings, Threads and Close are the target's.
func (s *Session) Pid() int                         { return s.t.Pid() }
func (s *Session) Exe() string                      { return s.t.Exe() }
func (s *Session) Mappings() ([]dbg.Mapping, error) { return s.t.Mappings() }
func (s *Session) Threads() ([]dbg.Thread, error)   { return s.t.Threads() }
func (s *Session) Close() error {
	s.closePagemap()
	if s.im != nil {
		s.im.release()
	}
	return s.t.Close()
}

// LastFreeze is how long the freeze lasted (capture reports it in the snapshot).
func (s *Session) LastFreeze() time.Duration {
	if ft, ok := s.t.(interface{ LastFreeze() time.Duration }); ok {
		return ft.LastFreeze()
	}
	return s.froze
}

// Expired reports whether the target's max-freeze watchdog released it early.
func (s *Session) Expired() bool {
	ex, ok := s.t.(interface{ Expired() bool })
	return ok && ex.Expired()
}
