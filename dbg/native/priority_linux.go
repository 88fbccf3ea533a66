package native

import (
	"os"

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
// Every thread of gorigin is raised, not only the tracer: the reads run on the runtime's
// threads (ReadBatch splits large ones), and so does the work capture does between them.
// SCHED_FLAG_RESET_ON_FORK keeps a thread the runtime starts during the window at the
// ordinary priority, so that restore finds every raised thread in its list.

// boostPriority is the SCHED_FIFO priority of the window: the lowest real-time one, above
// every ordinary process and below the kernel's own real-time threads.
const boostPriority = 1

// boost is a raise of this process's threads, to be restored.
type boost struct {
	saved []savedSched
}

type savedSched struct {
	tid  int
	attr unix.SchedAttr
}

// raisePriority raises every thread of this process to SCHED_FIFO, or when that is refused
// (a container without a real-time budget, RLIMIT_RTPRIO) to nice -20, and returns how to
// undo it. It returns nil, having changed nothing, when neither is allowed. Threads already
// at a real-time or deadline policy are left as they are.
func raisePriority() *boost {
	tids, err := procfs.Tasks(os.Getpid())
	if err != nil {
		return nil
	}
	raised := unix.SchedAttr{Policy: unix.SCHED_FIFO, Priority: boostPriority, Flags: unix.SCHED_FLAG_RESET_ON_FORK}
	b := &boost{}
	for _, tid := range tids {
		old, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			continue // exited since the listing
		}
		if old.Policy != unix.SCHED_NORMAL && old.Policy != unix.SCHED_BATCH && old.Policy != unix.SCHED_IDLE {
			continue
		}
		attr := raised
		err = unix.SchedSetAttr(tid, &attr, 0)
		if err == unix.EPERM && raised.Policy == unix.SCHED_FIFO {
			raised = unix.SchedAttr{Policy: unix.SCHED_NORMAL, Nice: -20, Flags: unix.SCHED_FLAG_RESET_ON_FORK}
			attr = raised
			err = unix.SchedSetAttr(tid, &attr, 0)
		}
		if err == unix.EPERM {
			b.restore() // the threads raised so far, if any
			return nil
		}
		if err == nil {
			// sched_getattr reports a fair thread's time slice (Linux 6.12+) whether or
			// not it was set; given back, it would become a custom slice. 0 is the default.
			old.Runtime = 0
			b.saved = append(b.saved, savedSched{tid: tid, attr: *old})
		}
	}
	return b
}

// restore puts every raised thread back to its own policy, priority and nice value.
// Lowering needs no privilege, so it cannot be refused; a thread that exited meanwhile
// (the tracer thread retires by exiting) needs nothing. It is a no-op on nil.
func (b *boost) restore() {
	if b == nil {
		return
	}
	for _, s := range b.saved {
		attr := s.attr
		unix.SchedSetAttr(s.tid, &attr, 0)
	}
	b.saved = nil
}
