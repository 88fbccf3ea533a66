package native

import (
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gorigin-dev/gorigin/dbg/procfs"
)

// schedOf is the kernel's scheduling attributes of every thread of process pid, by tid.
func schedOf(tb testing.TB, pid int) map[int]unix.SchedAttr {
	tb.Helper()
	tids, err := procfs.Tasks(pid)
	if err != nil {
		tb.Fatal(err)
	}
	m := map[int]unix.SchedAttr{}
	for _, tid := range tids {
		if a, err := unix.SchedGetAttr(tid, 0); err == nil {
			a.Size = 0 // the wrapper's, not the thread's
			m[tid] = *a
		}
	}
	return m
}

// canRaise reports whether this process may use SCHED_FIFO, by trying on a thread of its own.
func canRaise(tb testing.TB) bool {
	tb.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		tb.Fatal(err)
	}
	a := unix.SchedAttr{Policy: unix.SCHED_FIFO, Priority: boostPriority}
	if unix.SchedSetAttr(0, &a, 0) != nil {
		return false
	}
	if err := unix.SchedSetAttr(0, old, 0); err != nil {
		tb.Fatal(err)
	}
	return true
}

// checkRestored fails unless every thread of this process that existed before (and still
// does) has the scheduling attributes it had then, and no thread is left real-time.
func checkRestored(t *testing.T, before map[int]unix.SchedAttr) {
	t.Helper()
	for tid, a := range schedOf(t, os.Getpid()) {
		if a.Policy == unix.SCHED_FIFO || a.Policy == unix.SCHED_RR || a.Nice < before[tid].Nice {
			t.Errorf("thread %d left raised after the thaw: %+v", tid, a)
		}
		if b, ok := before[tid]; ok && a != b {
			t.Errorf("thread %d: scheduling %+v after the thaw, %+v before the freeze", tid, a, b)
		}
	}
}

// TestFreezeRaisesPriorityForTheWindow checks, through the kernel's own view of each
// thread (sched_getattr), that gorigin's threads run real-time while the target is frozen,
// and that a thaw — by Thaw, by the watchdog, by Close — puts each one back as it was; the
// target's threads are never touched.
func TestFreezeRaisesPriorityForTheWindow(t *testing.T) {
	if !canRaise(t) {
		t.Skip("SCHED_FIFO not permitted here (needs root or CAP_SYS_NICE): the freeze runs at the ordinary priority")
	}
	tg := startTarget(t, 2, 0)
	targetBefore := schedOf(t, tg.pid)

	for _, how := range []string{"Thaw", "watchdog", "Close"} {
		t.Run(how, func(t *testing.T) {
			limit := time.Minute
			if how == "watchdog" {
				limit = 2 * time.Second // as TestWatchdogThaws: a second freeze must not hit it
			}
			p := attach(t, tg.pid, Options{MaxFreeze: limit})
			p.boostFor = time.Hour // so that the raise is still on when looked at, however busy the machine
			// Start the tracer thread first, so that it is in the "before" picture.
			freeze(t, p)
			if err := p.Thaw(); err != nil {
				t.Fatal(err)
			}
			before := schedOf(t, os.Getpid())
			prev := p.LastFreeze()

			freeze(t, p)
			raised := 0
			for tid, a := range schedOf(t, os.Getpid()) {
				if a.Policy == unix.SCHED_FIFO && a.Priority == boostPriority {
					raised++
				} else if _, old := before[tid]; old {
					t.Errorf("thread %d not raised while frozen: %+v", tid, a)
				}
			}
			if raised == 0 {
				t.Fatal("no thread of this process is real-time while the target is frozen")
			}
			for tid, a := range schedOf(t, tg.pid) {
				if b, ok := targetBefore[tid]; ok && a != b {
					t.Errorf("target thread %d: scheduling %+v while frozen, %+v before", tid, a, b)
				}
			}
			// Threads the runtime starts during the window inherit the raise: start some
			// (goroutines locked to threads, alive until the checks are done) so that the
			// thaw has to find them.
			hold := make(chan struct{})
			defer close(hold)
			started := make(chan struct{})
			for range 4 {
				go func() {
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					started <- struct{}{}
					<-hold
				}()
				<-started
			}
			switch how {
			case "Thaw":
				if err := p.Thaw(); err != nil {
					t.Fatal(err)
				}
			case "watchdog":
				// Thawed by the watchdog once LastFreeze is this freeze's (a test timeout
				// catches a watchdog that never fires).
				for !p.Expired() || p.LastFreeze() == prev {
					time.Sleep(10 * time.Millisecond)
				}
			case "Close":
				if err := p.Close(); err != nil {
					t.Fatal(err)
				}
			}
			checkRunning(t, tg.pid)
			checkRestored(t, before)
		})
	}
}

// TestFreezeErrorRestoresPriority: a freeze that fails (the target exited) leaves nothing
// raised either.
func TestFreezeErrorRestoresPriority(t *testing.T) {
	if !canRaise(t) {
		t.Skip("SCHED_FIFO not permitted here (needs root or CAP_SYS_NICE)")
	}
	tg := startTarget(t, 1, 0)
	p := attach(t, tg.pid, Options{MaxFreeze: time.Minute})
	freeze(t, p)
	if err := p.Thaw(); err != nil {
		t.Fatal(err)
	}
	before := schedOf(t, os.Getpid())
	tg.cmd.Process.Kill()
	tg.cmd.Wait()
	if err := p.Freeze(); err == nil {
		t.Fatal("Freeze of an exited process succeeded")
	}
	checkRestored(t, before)
}

// TestRaiseEndsAtItsLimit: a window that outlasts boostLimit (work done frozen) gives the
// machine its CPUs back by itself, before any thaw.
func TestRaiseEndsAtItsLimit(t *testing.T) {
	if !canRaise(t) {
		t.Skip("SCHED_FIFO not permitted here (needs root or CAP_SYS_NICE)")
	}
	before := schedOf(t, os.Getpid())
	b := raisePriority(50*time.Millisecond, 0)
	if b == nil {
		t.Fatal("raisePriority changed nothing although SCHED_FIFO is permitted")
	}
	defer b.restore()
	if a, err := unix.SchedGetAttr(os.Getpid(), 0); err != nil || a.Policy != unix.SCHED_FIFO {
		t.Fatalf("main thread not raised: %+v, %v", a, err)
	}
	// Wait for the limit's timer (a test timeout catches one that never fires).
	for {
		if a, err := unix.SchedGetAttr(os.Getpid(), 0); err == nil && a.Policy != unix.SCHED_FIFO {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.mu.Lock() // the timer's restore holds it until every thread is done
	b.mu.Unlock()
	checkRestored(t, before)
}
