package native

import (
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/procfs"
)

// maxRounds bounds the "list threads, stop the new ones" loop against a target that
// creates threads faster than they can be stopped.
const maxRounds = 64

// tracee is one thread seized by the current freeze.
type tracee struct {
	tid     int
	stopped bool // observed in a ptrace stop, so PTRACE_DETACH works on it
	gone    bool // exited during the freeze
	sig     int  // signal caught by a signal-delivery-stop, re-injected at detach
}

// freezeThreads seizes and interrupts every thread of pid, listing /proc/PID/task
// again until no new thread appears, and waits until each one is stopped. It runs on
// the tracer thread. It returns the seized threads (also on error, so that the caller
// can detach them) and when the first interrupt was sent.
func freezeThreads(pid int, deadline time.Time) (threads []tracee, start time.Time, err error) {
	seen := make(map[int]bool)
	for round := 0; ; round++ {
		tids, lerr := procfs.Tasks(pid)
		if lerr != nil {
			return threads, start, lerr
		}
		first := len(threads)
		// Seize every new thread first (that stops nothing), then interrupt them all in
		// one pass, so that no thread sits stopped while the others are being seized.
		for _, tid := range tids {
			if seen[tid] {
				continue
			}
			seen[tid] = true
			if e := ptrace(unix.PTRACE_SEIZE, tid, 0, 0); e != 0 {
				if e == syscall.ESRCH || threadGone(pid, tid) {
					continue // exited since the listing
				}
				err = seizeError(pid, tid, e)
				break
			}
			threads = append(threads, tracee{tid: tid})
		}
		if start.IsZero() && len(threads) > first {
			start = time.Now()
		}
		for _, t := range threads[first:] {
			// ESRCH here means the thread is exiting; waiting reports its exit.
			ptrace(unix.PTRACE_INTERRUPT, t.tid, 0, 0)
		}
		// Wait for the ones just seized even after an error: only stopped threads can
		// be detached.
		if werr := waitStops(pid, threads[first:], deadline); werr != nil && err == nil {
			err = werr
		}
		if err != nil {
			return threads, start, err
		}
		if len(threads) == first {
			break // a full listing with every thread stopped: nothing can start another
		}
		if round == maxRounds {
			return threads, start, fmt.Errorf("freeze %d: new threads kept appearing after %d rounds", pid, maxRounds)
		}
	}
	live := threads[:0]
	for _, t := range threads {
		if !t.gone {
			live = append(live, t)
		}
	}
	if len(live) == 0 {
		return nil, start, fmt.Errorf("freeze %d: %w", pid, dbg.ErrExited)
	}
	return live, start, nil
}

func seizeError(pid, tid int, e syscall.Errno) error {
	if e != syscall.EPERM {
		return fmt.Errorf("attach %d (thread %d): %w", pid, tid, e)
	}
	if st, err := procfs.ReadStatus(pid); err == nil && st.TracerPid != 0 {
		return tracedError(pid, st.TracerPid)
	}
	return permissionError(pid)
}

func permissionError(pid int) error {
	return fmt.Errorf("attach %d: %w: %s", pid, dbg.ErrPermission, dbg.PtraceRemedy())
}

// tracedError names the process that traces pid; TracerPid is the tracing thread.
func tracedError(pid, tracer int) error {
	if st, err := procfs.ReadStatus(tracer); err == nil && st.Tgid > 0 {
		tracer = st.Tgid
	}
	return fmt.Errorf("attach %d: %w: pid %d is already traced by pid %d (a debugger?): detach it first",
		pid, dbg.ErrPermission, pid, tracer)
}

// waitStops polls (WNOHANG) each thread until it reports a stop or its exit. A thread
// may report a signal-delivery-stop (Go's preemption signal SIGURG, say) before the
// interrupt stop: it is stopped all the same, and the signal is kept for the detach.
//
// Polling, not a blocking wait4, so that a thread that never stops (uninterruptible
// sleep) cannot hang the freeze past the deadline. While no thread reports anything,
// /proc is asked every few milliseconds whether the waited-for threads still exist: a
// killed process can leave zombie threads that never report to wait4 (a thread group
// leader's exit waits for the rest of its group), and a freeze must notice at once that
// there is nothing left to stop rather than wait for its deadline.
func waitStops(pid int, threads []tracee, deadline time.Time) error {
	pending := len(threads)
	for idle := 0; pending > 0; {
		progressed := false
		for i := range threads {
			t := &threads[i]
			if t.stopped || t.gone {
				continue
			}
			r, status, e := wait4(t.tid)
			switch {
			case e == syscall.EINTR || (e == 0 && r == 0):
				continue
			case e != 0: // ECHILD: no longer ours to wait for, it is gone
				t.gone = true
			case waitStatus(status).stopped():
				t.stopped = true
				if ws := waitStatus(status); ws.event() == 0 {
					t.sig = ws.stopSig()
				}
			case waitStatus(status).terminated():
				t.gone = true
			default:
				continue
			}
			pending--
			progressed = true
		}
		if progressed {
			idle = 0
			continue
		}
		if idle%goneCheckEvery == goneCheckEvery-1 {
			pending -= markGone(pid, threads)
			if pending == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			for _, t := range threads {
				if !t.stopped && !t.gone {
					return fmt.Errorf("freeze: thread %d did not stop in time (uninterruptible sleep?): %w", t.tid, dbg.ErrStopTimeout)
				}
			}
		}
		idle++
		backoff(idle)
	}
	return nil
}

// goneCheckEvery is how many idle polls pass between two looks in /proc for threads that
// exited without a word to wait4: at least every 16 ms once the backoff has reached 1 ms.
const goneCheckEvery = 16

// markGone marks the threads still waited for that /proc shows exited or exiting (a
// zombie never stops) and returns how many it marked.
func markGone(pid int, threads []tracee) (n int) {
	for i := range threads {
		t := &threads[i]
		if !t.stopped && !t.gone && threadGone(pid, t.tid) {
			t.gone = true
			n++
		}
	}
	return n
}

// backoff yields the CPU (the threads being stopped need it to reach their stop) and,
// after a few rounds, sleeps a little longer each time, up to 1ms.
func backoff(idle int) {
	if idle < 8 {
		syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
		return
	}
	d := time.Duration(idle-7) * 20 * time.Microsecond
	if d > time.Millisecond {
		d = time.Millisecond
	}
	ts := syscall.NsecToTimespec(int64(d))
	syscall.Nanosleep(&ts, nil)
}

// thawThreads detaches every stopped thread, handing back any signal its stop caught.
// It returns the tids it could not detach (seized but never seen stopped); only the
// tracer thread's exit can release those.
func thawThreads(threads []tracee) (stuck []int) {
	for _, t := range threads {
		if t.gone {
			continue
		}
		if !t.stopped {
			stuck = append(stuck, t.tid)
			continue
		}
		if e := ptrace(syscall.PTRACE_DETACH, t.tid, 0, uintptr(t.sig)); e != 0 && e != syscall.ESRCH {
			stuck = append(stuck, t.tid)
		}
	}
	return stuck
}

// waitUntraced waits (up to limit) until none of the threads is traced by tracerTid,
// after the tracer thread exited.
func waitUntraced(pid int, tids []int, tracerTid int, limit time.Duration) error {
	end := time.Now().Add(limit)
	for _, tid := range tids {
		for {
			st, err := procfs.ReadTaskStatus(pid, tid)
			if err != nil || st.TracerPid != tracerTid {
				break
			}
			if time.Now().After(end) {
				return fmt.Errorf("thread %d of pid %d is still traced by thread %d", tid, pid, tracerTid)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}
