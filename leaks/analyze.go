package leaks

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/gstruct"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// Verdicts (snapshot.Verdict: a snapshot's goroutines carry them).
const (
	Leaked  = snapshot.Leaked  // proven: nothing that can run reaches what it waits on
	Live    = snapshot.Live    // it can run, or what it waits on is reachable
	Unknown = snapshot.Unknown // it waits on something the analysis does not model
)

// Options tune Analyze and Begin.
type Options struct {
	// Progress, when set, hears how the analysis goes (stage, done of total; total 0:
	// unknown). It may be called while the target is frozen, so it must be quick.
	Progress func(stage string, done, total int)
	// Mode is ModeCopy, ModeFrozen, or "" (Begin: copy when the copy fits in the memory
	// gorigin may use, else mark while frozen if that fits in MaxFreeze, else refuse).
	Mode string
	// MaxFreeze is the longest freeze the caller allows (0: no limit): marking while
	// frozen is chosen instead of a copy that does not fit only when its expected freeze
	// is shorter.
	MaxFreeze time.Duration
	// DebugFile names the executable's separate debug file (see gstruct.OpenOptions).
	DebugFile string
}

// Result is the verdict on every goroutine of the target, by goroutine id.
type Result struct {
	Verdicts map[int64]Verdict
	Warnings []string
	Stats    Stats
}

// Verdict is what the analysis concluded about one goroutine, and why.
type Verdict struct {
	Leak   snapshot.Verdict // Leaked, Live or Unknown
	Why    string           // one sentence
	WaitOn []WaitObject     // what it waits on, when the analysis found it
	// ByDesign marks the main goroutine parked in select {}: reported apart, counted as
	// live, not a leak to fix.
	ByDesign bool
}

// WaitObject is a channel, semaphore (a sync.Mutex, RWMutex or WaitGroup) or Cond a
// goroutine waits on.
type WaitObject struct {
	Kind     string // "chan", "sema", "cond"
	Addr     uint64
	ElemSize uint64 // a channel's element size (from hchan.elemsize), when known
	Where    string // "heap", "global", "stack of goroutine N", "unknown"
	// Type is the object's type where known: "chan *main.T" (from the channel's element
	// type), "sync.Mutex", "sync.WaitGroup", ... (from the wait reason).
	Type string
	// Object says which variable or heap object holds it: "main.mu" (a global, by
	// symbol), "+8 in a 24-byte heap object at 0xc000010000".
	Object string
}

func (w WaitObject) String() string {
	t := w.Type
	if t == "" {
		t = w.Kind
	}
	s := fmt.Sprintf("%s %#x", t, w.Addr)
	if w.Kind == "chan" && w.ElemSize > 0 && !strings.HasPrefix(w.Type, "chan ") {
		s += fmt.Sprintf(" (%d-byte elements)", w.ElemSize)
	}
	return s
}

// Stats say what the analysis read and how long it took.
type Stats struct {
	Goroutines, Candidates  int
	Spans                   int
	Objects, Marked         uint64
	HeapBytes, ScannedBytes uint64
	// Of ScannedBytes, the bytes of heap objects scanned with the runtime's own pointer
	// maps, and without them (conservatively: every word counts).
	PreciseBytes, ConservativeBytes uint64
	Rounds, Fixpoint                int
	Freeze, Total                   time.Duration
	Leaked, LiveCount, NotSure      int
	ByDesign                        int // of LiveCount: main parked in select {}
	// Mode is how the marking ran: ModeCopy (on a copy, after the thaw) or ModeFrozen.
	Mode string
	// Copied is how many bytes of the target the copy held (ModeCopy).
	Copied uint64
	// Recopy is how the freeze refreshed the copy taken while the target ran
	// (ModeCopy): RecopySoftDirty (only the pages written since) or RecopyFull, and
	// RecopyWhy why not the first; Recopied is how many bytes of the plan it read again.
	Recopy, RecopyWhy string
	Recopied          uint64
}

// Wait reasons the analysis models, and what kind of object each waits on.
var modelled = map[string]string{
	"chan send": "chan", "chan receive": "chan", "select": "chan",
	"chan send (nil chan)": "nil", "chan receive (nil chan)": "nil", "select (no cases)": "nil",
	"semacquire": "sema", "sync.Mutex.Lock": "sema", "sync.RWMutex.Lock": "sema",
	"sync.RWMutex.RLock": "sema", "sync.WaitGroup.Wait": "sema",
	"sync.Cond.Wait": "cond",
}

// gor is one goroutine as the analysis sees it.
type gor struct {
	g       gstruct.G
	reason  string // wait reason (also for the _Gleaked status)
	waiting uint64 // g.waiting
	kind    string // modelled kind, "" for a root
	root    bool   // scanned as a root (it can run, or its wait is not modelled)
	live    bool   // became reachable in the fixpoint
	waits   []waitRef
	unknown string // why it is Unknown, when the wait objects could not be found
	sudogs  []uint64
}

// waitRef is a wait object and where it lives.
type waitRef struct {
	WaitObject
	obj   uint64 // heap object index (Where "heap")
	owner int    // goroutine index whose stack holds it (Where "stack")
}

// Analyze freezes t (a core needs no freezing), reads its heap and goroutines, marks
// while it is frozen, and classifies every goroutine. The target is thawed before Analyze
// returns. A live target is better served by Begin, which marks on a copy.
func Analyze(t dbg.Target, opt Options) (*Result, error) {
	opt.Mode = ModeFrozen
	s, err := Begin(t, opt)
	if err != nil {
		return nil, err
	}
	ferr := s.Freeze()
	if terr := s.Thaw(); terr != nil && ferr == nil {
		ferr = fmt.Errorf("let the target run again: %w", terr)
	}
	if ferr != nil {
		return nil, ferr
	}
	return s.Finish()
}

type analysis struct {
	t        dbg.Target
	m        dbg.Memory // where memory is read: t, or the copy of it
	l        *layout
	rt       *gstruct.Runtime
	maps     []dbg.Mapping
	types    *typeNamer // names channel element types (nil: none)
	frames   *frameMaps // the compiler's stack maps (nil: stacks are scanned conservatively)
	bias     uint64
	progress func(string, int, int)

	gs []*gor
	// threads are the target's threads with their registers, read while it was frozen.
	threads    []dbg.Thread
	threadsErr error
	found      map[*gor][]sudog // each blocked goroutine's sudogs (nil: not read yet)
	scratch    *spanScratch     // for the freeze's readSpans (ModeCopy)
	h          *heap
	k          *marker
	stacks     []stackRange // every goroutine's stack, sorted
	warn       []string
	iters      int
	named      []namedRange // roots outside globals and stacks, to explain a path
}

// namedRange is target memory [lo, hi) scanned as a root, and what it is.
type namedRange struct {
	lo, hi uint64
	name   string
}

type stackRange struct {
	lo, hi uint64
	g      int
}

// setup reads, while the target is frozen, the goroutines and the threads' registers,
// then prepares the marking (ModeFrozen).
func (a *analysis) setup() error {
	if err := a.readGoroutines(); err != nil {
		return err
	}
	a.threads, a.threadsErr = a.t.Threads()
	return a.prepare("leaks (frozen)")
}

// prepare reads the heap's spans and what each blocked goroutine waits on, and queues
// the roots: while the target is frozen (ModeFrozen), or on the copy after the thaw
// (ModeCopy: collect made sure the copy holds all this reads).
func (a *analysis) prepare(when string) error {
	phase := capture.Tracer(when)
	a.progress("reading the heap's spans", 0, 0)
	h, err := readHeap(a.m, a.l, a.bias)
	if err != nil {
		return err
	}
	a.h = h
	phase("read %d spans, %d objects", len(h.spans), h.objects)
	a.loadPointerBits()
	phase("read the heap's pointer maps")
	skip := make(map[uint64]bool, len(a.gs))
	for _, g := range a.gs {
		skip[g.g.Addr] = true
	}
	a.k = &marker{m: a.m, h: h, skip: skip, progress: func(done uint64) {
		a.progress("marking reachable heap objects", int(done), int(h.objects))
	}}
	if explaining() {
		a.k.from = map[uint64]uint64{}
	}
	if a.types != nil {
		a.k.types = a.types.gcType
	}
	if err := a.findPs(); err != nil {
		return err
	}
	if err := a.findWaits(); err != nil {
		return err
	}
	// A blocked goroutine's own sudogs are not scanned: they point to its channel (the
	// wait object itself), its stack, its g, and the next waiter of the same channel —
	// following that list would cost a round of reads per waiter and tell nothing.
	for _, g := range a.gs {
		if !g.root {
			for _, s := range g.sudogs {
				skip[s] = true
			}
		}
	}
	phase("found wait objects")
	a.roots()
	phase("queued roots")
	return nil
}

// mark marks from the queued roots, then repeats with every blocked goroutine whose
// wait object became reachable until nothing changes.
func (a *analysis) mark() error {
	phase := capture.Tracer("leaks (marking)")
	if err := a.k.drain(); err != nil {
		return err
	}
	phase("marked from roots: %d objects, %d MB scanned", a.k.marked, a.k.scanned>>20)
	// The fixpoint: a blocked goroutine whose wait object is reachable can wake up, so
	// what its stack reaches is reachable too.
	for {
		a.iters++
		woke := false
		for _, g := range a.gs {
			if g.root || g.live || g.kind == "" {
				continue
			}
			if a.reachable(g) {
				g.live = true
				woke = true
				a.scanGoroutine(g)
			}
		}
		if !woke {
			break
		}
		if err := a.k.drain(); err != nil {
			return err
		}
	}
	phase("fixpoint: %d iterations, %d objects marked", a.iters, a.k.marked)
	return nil
}

// readGoroutines reads allgs and every g, and decides which are roots.
func (a *analysis) readGoroutines() error {
	addrs, err := a.rt.AllGs(a.m)
	if err != nil {
		return err
	}
	size := a.rt.GSize()
	items := make([]item, len(addrs))
	for i, ad := range addrs {
		items[i] = item{ad, size}
	}
	a.progress("reading goroutines", 0, len(addrs))
	if _, err := readMany(a.m, items, func(i int, raw []byte) {
		g := a.rt.Decode(addrs[i], raw)
		if g.Status == "dead" || g.Status == "idle" {
			return
		}
		gr := &gor{g: g, reason: g.WaitReason, waiting: word(raw, a.l.gWaiting)}
		if a.l.hasGLeaked && g.StatusCode == uint32(a.l.gleaked) {
			// The runtime's own leak detector parked it for good: its wait reason is
			// still in g.waitreason, which Decode names only for _Gwaiting.
			fake := append([]byte(nil), raw...)
			putWord(fake, a.l.gStatus, a.l.gwaiting)
			gr.reason = a.rt.Decode(addrs[i], fake).WaitReason
		}
		if g.Status == "waiting" || g.Status == "leaked" {
			gr.kind = modelled[gr.reason]
		}
		gr.root = gr.kind == ""
		a.gs = append(a.gs, gr)
	}); err != nil {
		return fmt.Errorf("read the g structs: %w", err)
	}
	a.indexStacks()
	return nil
}

// indexStacks sorts the goroutines' stacks for stackOf.
func (a *analysis) indexStacks() {
	for i, g := range a.gs {
		if g.g.StackHi > g.g.StackLo {
			a.stacks = append(a.stacks, stackRange{g.g.StackLo, g.g.StackHi, i})
		}
	}
	slices.SortFunc(a.stacks, func(x, y stackRange) int {
		switch {
		case x.lo < y.lo:
			return -1
		case x.lo > y.lo:
			return 1
		}
		return 0
	})
}

func putWord(b []byte, f field, v uint64) {
	for i := 0; i < f.size && f.off+i < len(b); i++ {
		b[f.off+i] = byte(v >> (8 * i))
	}
}

// scanGoroutine queues a goroutine's stack and g struct (its saved registers, closure
// context, defers, ...) as roots.
func (a *analysis) scanGoroutine(g *gor) {
	lo, hi := g.g.StackLo, g.g.StackHi
	// A goroutine that is not running saved its stack pointer: below it is garbage. A
	// running one (or one in a system call) may be anywhere in its stack.
	if g.g.Status != "running" && g.g.Status != "syscall" && g.g.SchedSP > lo && g.g.SchedSP < hi {
		lo = g.g.SchedSP
	}
	// A parked goroutine's frames all stand at safe points, and so do those of one in a
	// system call above the stack pointer it saved entering it (g.sched): the compiler's
	// maps say which words hold live pointers. Otherwise (running, runnable: its innermost
	// frame may be anywhere), or without maps, every word counts.
	parked := g.g.Status == "waiting" || g.g.Status == "leaked" || g.g.Status == "syscall"
	if !(parked && a.preciseStack(g)) && hi > lo && hi-lo <= 1<<30 {
		a.k.root(lo, hi-lo)
	}
	a.rootG(g.g.Addr)
}

// rootG queues a g struct as a root but for its stack bounds: uintptrs the garbage
// collector does not follow, and stack.hi, one past the stack's end, may be the address
// of a heap object that happens to follow the stack (seen on Go 1.20: a leaked
// goroutine's sudog, which kept its RWMutex "live").
func (a *analysis) rootG(addr uint64) {
	size := uint64(a.rt.GSize())
	lo, hi := a.l.gStackLo, a.l.gStackHi
	if !lo.ok() || !hi.ok() || lo.off != 0 || hi.off != 8 {
		a.k.root(addr, size)
		return
	}
	a.k.root(addr+16, size-16)
}

// roots queues every root: the executable's .data and .bss (but the semaphore table,
// whose queues would otherwise hold every blocked goroutine's mutex), goroutines that can
// run, the threads' stacks, and objects with finalizers or cleanups.
func (a *analysis) roots() {
	// The runtime's .noptrdata and .noptrbss hold no pointers (the compiler puts only
	// pointer-free globals there), and the garbage collector does not scan them either.
	globals := a.l.pointerful
	if a.l.globalPtrs != nil {
		globals = a.l.globalPtrs // only the words the linker says hold pointers
	}
	for _, p := range globals {
		lo, hi := p[0]+a.bias, p[1]+a.bias
		st, se := a.l.semtable+a.bias, a.l.semtable+a.l.semtableSize+a.bias
		if a.l.semtable != 0 && st < hi && se > lo {
			if st > lo {
				a.k.root(lo, st-lo)
			}
			if hi > se {
				a.k.root(se, hi-se)
			}
		} else {
			a.k.root(lo, hi-lo)
		}
	}
	for _, g := range a.gs {
		if g.root {
			a.scanGoroutine(g)
		}
	}
	if a.threadsErr == nil {
		a.threadRoots(a.threads)
	} else {
		a.warn = append(a.warn, fmt.Sprintf("the threads' stacks were not scanned (%v)", a.threadsErr))
	}
	a.specials()
	a.queued(a.l.finalizerQueue)
	a.queued(a.l.cleanupQueue)
}

// atRegister is where a pointer found in a thread's register is "from" (for explaining):
// no word of memory has address 1.
const atRegister = 1

// threadRoots queues every thread's stack and marks what the registers of each thread
// that runs a goroutine point to: stopped at an arbitrary instruction, running Go code
// may hold the only pointer to an object in a register, and the analysis cannot tell
// which registers are live, so it takes them all. Other threads' registers are not
// roots: Go has no callee-saved registers, so a goroutine that called into the runtime
// or a system call spilled what it needs to its stack (scanned), and an idle thread's
// registers are stale — they once made a leaked Cond look live.
func (a *analysis) threadRoots(threads []dbg.Thread) {
	sys := a.systemStacks()
	for _, th := range threads {
		a.threadStack(th, sys)
		if i, ok := a.stackOf(th.SP); ok && a.gs[i].g.Status == "running" {
			for _, r := range th.Regs {
				a.k.markFrom(r, atRegister)
			}
		}
	}
	if len(threads) > 0 && threads[0].Regs == nil {
		a.warn = append(a.warn, "the backend gave no thread registers: a pointer held only in a register was not seen")
	}
}

// specials makes objects with a finalizer or cleanup, and the finalizer or cleanup
// function itself, roots: the runtime will run them.
func (a *analysis) specials() {
	failed := a.walkSpecials(a.h.spans, func(s *span, addr uint64, b []byte) {
		if a.l.specialRootKinds[word(b, a.l.specialKind)] {
			a.k.markObject(s.base + word(b, a.l.specialOffset))
			off := (a.l.specialKind.off + 8) &^ 7 // the record after its header
			a.k.scan(addr+uint64(off), b[off:])
		}
	})
	a.k.failed += failed
}

// walkSpecials calls fn with every special record of spans (its address and bytes) and
// says how many reads failed.
func (a *analysis) walkSpecials(spans []span, fn func(s *span, addr uint64, b []byte)) (failed int) {
	const specialBytes = 56 // a specialfinalizer, the largest special that holds pointers
	type at struct {
		s    int
		addr uint64
	}
	var cur []at
	for i, s := range spans {
		if s.specials != 0 {
			cur = append(cur, at{i, s.specials})
		}
	}
	for n := 0; len(cur) > 0 && n < 1<<20; n++ {
		items := make([]item, len(cur))
		for i, c := range cur {
			items[i] = item{c.addr, specialBytes}
		}
		var next []at
		f, err := readMany(a.m, items, func(i int, b []byte) {
			fn(&spans[cur[i].s], cur[i].addr, b)
			if nx := word(b, a.l.specialNext); nx != 0 {
				next = append(next, at{cur[i].s, nx})
			}
		})
		if err != nil || f > 0 {
			failed += max(f, 1)
		}
		cur = next
	}
	return failed
}

// findPs reads runtime.allp, so that the write barrier buffers of the P structs are not
// scanned: they hold stale copies of pointers the program overwrote.
func (a *analysis) findPs() error {
	a.k.hole = map[uint64]field{}
	if !a.l.pWbBuf.ok() {
		return nil
	}
	ps, err := a.allPs()
	if err != nil {
		return err
	}
	for _, p := range ps {
		if _, base, _, ok := a.h.find(p); ok && base == p {
			a.k.hole[p] = a.l.pWbBuf
		}
	}
	return nil
}

// allPs reads runtime.allp: the addresses of the P structs.
func (a *analysis) allPs() ([]uint64, error) {
	if a.l.allp == 0 {
		return nil, nil
	}
	hdr := make([]byte, 16)
	if err := a.m.ReadBatch([]dbg.Region{{Addr: a.l.allp + a.bias, Buf: hdr}}); err != nil {
		return nil, fmt.Errorf("read runtime.allp: %w", err)
	}
	data, n := word(hdr, field{0, 8}), word(hdr, field{8, 8})
	if n == 0 || n > 1<<16 {
		return nil, nil
	}
	arr := make([]byte, n*8)
	if err := a.m.ReadBatch([]dbg.Region{{Addr: data, Buf: arr}}); err != nil {
		return nil, fmt.Errorf("read runtime.allp: %w", err)
	}
	var out []uint64
	for i := uint64(0); i < n; i++ {
		if p := word(arr, field{int(i * 8), 8}); p != 0 {
			out = append(out, p)
		}
	}
	return out, nil
}

// systemStacks reads the g0 and signal stacks of every M (runtime.allm): a thread that
// runs on one is in the scheduler or a system call on behalf of a goroutine.
func (a *analysis) systemStacks() [][2]uint64 {
	if a.l.allm == 0 || !a.l.mG0.ok() || !a.l.mAlllink.ok() {
		return nil
	}
	head := make([]byte, 8)
	if a.m.ReadBatch([]dbg.Region{{Addr: a.l.allm + a.bias, Buf: head}}) != nil {
		return nil
	}
	var gs []uint64
	seen := map[uint64]bool{}
	for m := word(head, field{0, 8}); m != 0 && !seen[m] && len(seen) < 1<<14; {
		seen[m] = true
		b := make([]byte, a.l.mSize)
		if a.m.ReadBatch([]dbg.Region{{Addr: m, Buf: b}}) != nil {
			break
		}
		gs = append(gs, word(b, a.l.mG0), word(b, a.l.mGsignal))
		m = word(b, a.l.mAlllink)
	}
	var out [][2]uint64
	items := make([]item, 0, len(gs))
	for _, g := range gs {
		if g != 0 {
			items = append(items, item{g, a.rt.GSize()})
		}
	}
	readMany(a.m, items, func(i int, raw []byte) {
		g := a.rt.Decode(items[i].addr, raw)
		if g.StackHi > g.StackLo && g.StackHi-g.StackLo <= 64<<20 {
			out = append(out, [2]uint64{g.StackLo, g.StackHi})
		}
	})
	return out
}

// threadStack queues a thread's stack from its stack pointer up (see threadStackRange).
func (a *analysis) threadStack(th dbg.Thread, sys [][2]uint64) {
	lo, hi, system := a.threadStackRange(th, sys)
	if hi <= lo {
		return
	}
	// A thread on its system stack (g0, gsignal): its frames are the runtime's, with maps
	// but for the innermost, stopped anywhere.
	if system && a.frames != nil && hi-lo <= maxPreciseStack && a.stackRoots(lo, th.PC, hi, true, nil) {
		return
	}
	a.k.root(lo, hi-lo)
}

// threadStackRange is the part of a thread's stack scanned as a root: from its stack
// pointer to the top of the goroutine, g0 or signal stack (system) it is on; on a stack
// gorigin does not know (the main thread's, a C thread's), at most 64 KiB and never into
// a goroutine's stack, whose contents must not count unless that goroutine can run.
func (a *analysis) threadStackRange(th dbg.Thread, sys [][2]uint64) (lo, hi uint64, system bool) {
	sp := th.SP
	if sp == 0 {
		return 0, 0, false
	}
	if i, ok := a.stackOf(sp); ok {
		g := a.gs[i].g
		if g.Status == "syscall" && g.SchedSP >= sp && g.SchedSP < g.StackHi {
			// A thread in a system call on a goroutine's stack: above the stack pointer
			// the goroutine saved entering it are its own frames, scanned with it.
			return sp, g.SchedSP, false
		}
		return sp, g.StackHi, false
	}
	for _, s := range sys {
		if sp >= s[0] && sp < s[1] {
			return sp, s[1], true
		}
	}
	end := sp + 64<<10
	for _, mp := range a.maps {
		if sp >= mp.Start && sp < mp.End {
			end = min(end, mp.End)
		}
	}
	for _, st := range a.stacks {
		if st.lo > sp && st.lo < end {
			end = st.lo
		}
	}
	for _, s := range sys {
		if s[0] > sp && s[0] < end {
			end = s[0]
		}
	}
	return sp, end, false
}
