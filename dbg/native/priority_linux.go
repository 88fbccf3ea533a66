package native

import (
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gorigin-dev/gorigin/dbg/procfs"
)

// While the target is frozen gorigin's threads run at a raised scheduling priority, and at
// their own priority again the moment it runs: on a busy machine the window is otherwise
// gorigin's few milliseconds of work spread over the time slices the scheduler grants it
// among every other runnable process (measured at load 35: the 46 MB copy of 100,000 g
// structs, 9 ms on a quiet machine, took 300 ms once). The raise needs root or
// CAP_SYS_NICE; without it gorigin runs as before.
//
// The tracer thread is raised before the first interrupt (so that the stop is sent and
// awaited without waiting for a time slice), every other thread of gorigin once all the
// target's threads stopped: the reads run on the runtime's threads (ReadBatch splits large
// ones), and so does the work capture does between them. Not sooner: while the target's
// threads head for their stops they need the CPUs, and gorigin's own garbage collector
// workers, raised, held them (stops of 100-175 ms at load 45, most under 1 ms otherwise).
// A thread the runtime starts during the window inherits the raise (it may be the one that
// reads), and restore looks for such threads until it finds none.

// boostLimit bounds the raise: a window longer than this is no longer a stop and a copy
// but work done frozen (leaks marking while frozen, --stacks on a huge target), and the
// rest of the machine gets its CPUs back while the target stays frozen. The copy of
// 1,000,000 g structs (460 MB) takes about 100 ms on a quiet 2-core machine.
const boostLimit = 250 * time.Millisecond

// boostPriority is the SCHED_FIFO priority of the window: the lowest real-time one, above
// every ordinary process and below the kernel's own real-time threads.
const boostPriority = 1

// boost is a raise of this process's threads, to be restored.
type boost struct {
	mu     sync.Mutex             // restore runs from the thaw or from the limit's timer
	timer  *time.Timer            // boostLimit
	raised unix.SchedAttr         // what the threads were raised to
	saved  map[int]unix.SchedAttr // each raised thread's own attributes, by tid
	base   unix.SchedAttr         // for threads started during the window: the main thread's
}

// raisePriority raises thread tid of this process (0: every thread) to SCHED_FIFO, or when
// that is refused (a container without a real-time budget, RLIMIT_RTPRIO) to nice -20,
// and returns how to undo it; the raise ends by itself after limit. It returns nil, having
// changed nothing, when neither is allowed or when the process already runs at a real-time
// or deadline policy (someone chose that for it).
func raisePriority(limit time.Duration, tid int) *boost {
	main, err := unix.SchedGetAttr(os.Getpid(), 0)
	if err != nil || !fair(main.Policy) {
		return nil
	}
	b := &boost{
		raised: unix.SchedAttr{Policy: unix.SCHED_FIFO, Priority: boostPriority},
		saved:  map[int]unix.SchedAttr{},
		base:   own(*main),
	}
	tids := []int{tid}
	if tid == 0 {
		if tids, err = procfs.Tasks(os.Getpid()); err != nil {
			return nil
		}
	}
	if !b.raise(tids) {
		return nil
	}
	b.timer = time.AfterFunc(limit, b.restore)
	return b
}

// raiseRest raises the threads of this process the boost has not raised yet. A no-op on
// nil and once restored.
func (b *boost) raiseRest() {
	if b == nil {
		return
	}
	tids, err := procfs.Tasks(os.Getpid())
	if err != nil {
		return
	}
	b.raise(tids)
}

// raise raises the threads in tids not raised yet. It returns false, having restored
// everything, when raising is not permitted.
func (b *boost) raise(tids []int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.saved == nil {
		return true // restored already (the limit passed)
	}
	for _, tid := range tids {
		if _, ok := b.saved[tid]; ok {
			continue
		}
		old, err := unix.SchedGetAttr(tid, 0)
		if err != nil || !fair(old.Policy) {
			continue // exited since the listing, or real-time by someone's choice
		}
		attr := b.raised
		err = unix.SchedSetAttr(tid, &attr, 0)
		if err == unix.EPERM && b.raised.Policy == unix.SCHED_FIFO && len(b.saved) == 0 {
			b.raised = unix.SchedAttr{Policy: unix.SCHED_NORMAL, Nice: -20}
			attr = b.raised
			err = unix.SchedSetAttr(tid, &attr, 0)
		}
		if err == unix.EPERM {
			b.restoreLocked()
			return false
		}
		if err == nil {
			b.saved[tid] = own(*old)
		}
	}
	return true
}

// fair reports whether policy is one of the ordinary (CFS/EEVDF) ones.
func fair(policy uint32) bool {
	return policy == unix.SCHED_NORMAL || policy == unix.SCHED_BATCH || policy == unix.SCHED_IDLE
}

// own is a thread's attributes as sched_setattr takes them back. sched_getattr reports a
// fair thread's time slice (Linux 6.12+) whether or not it was set; given back, it would
// become a custom slice. 0 is the default.
func own(a unix.SchedAttr) unix.SchedAttr {
	a.Runtime = 0
	return a
}

// restore puts every raised thread back to its own policy, priority and nice value, and
// threads started during the window to the main thread's. Lowering needs no privilege, so
// it cannot be refused; a thread that exited meanwhile (the tracer thread retires by
// exiting) needs nothing. It lists the threads again until a listing shows none raised:
// a raised thread may start another until it is restored itself. It is a no-op on nil and
// the second time.
func (b *boost) restore() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.restoreLocked()
}

// isRaised reports whether a is the raise.
func (b *boost) isRaised(a *unix.SchedAttr) bool {
	return a.Policy == b.raised.Policy && a.Priority == b.raised.Priority && a.Nice == b.raised.Nice
}

// lowerInherited puts the threads of this process that are raised but were not raised by
// the boost (they inherited it when a raised thread started them) to the main thread's
// attributes, listing the threads again until a listing finds none; skip (this thread) is
// left alone.
func (b *boost) lowerInherited(skip int) {
	pid := os.Getpid()
	for range 16 { // bounded in case the listing fails in some odd way; 1 or 2 passes in practice
		tids, err := procfs.Tasks(pid)
		if err != nil {
			return
		}
		found := 0
		for _, tid := range tids {
			if tid == skip {
				continue
			}
			cur, err := unix.SchedGetAttr(tid, 0)
			if err != nil || !b.isRaised(cur) {
				continue
			}
			a, ok := b.saved[tid]
			if !ok {
				a = b.base
			}
			unix.SchedSetAttr(tid, &a, 0)
			found++
		}
		if found == 0 {
			return
		}
	}
}

func (b *boost) restoreLocked() {
	if b.timer != nil {
		b.timer.Stop()
	}
	if b.saved == nil {
		return // restored already
	}
	// This thread last: once lowered, it waits its turn among every runnable process on
	// a busy machine.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self := unix.Gettid()
	for tid, a := range b.saved {
		if tid != self {
			unix.SchedSetAttr(tid, &a, 0)
		}
	}
	b.lowerInherited(self)
	a, ok := b.saved[self]
	if !ok {
		a = b.base
	}
	if cur, err := unix.SchedGetAttr(self, 0); err == nil && b.isRaised(cur) {
		unix.SchedSetAttr(self, &a, 0)
	}
	// Once more with nothing of gorigin raised: a thread started from a raised thread after
	// the last listing (this one, raised until just now, too) inherited the raise.
	b.lowerInherited(0)
	b.saved = nil
}
