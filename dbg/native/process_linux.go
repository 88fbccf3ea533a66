package native

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/procfs"
)

// Options tune a Process.
type Options struct {
	// MaxFreeze: a watchdog thaws the target if it stays frozen longer than this
	// (0 = 2s default). It also bounds how long Freeze waits for a thread to stop.
	MaxFreeze time.Duration
	checkOnly bool // Check: no registration, nothing to Close
}

const defaultMaxFreeze = 2 * time.Second

// Process is a live Linux process gorigin is attached to. Attach only checks that it
// may be read; Freeze stops it, Thaw detaches completely, Close does both and more.
// Its methods are safe for concurrent use.
type Process struct {
	pid  int
	opts Options

	mu       sync.Mutex // serialises Freeze, Thaw, Threads, Close and the watchdog
	tr       *tracer    // nil until the first Freeze, and after the tracer retired
	threads  []tracee   // seized by the current freeze; empty when thawed
	frozen   bool
	start    time.Time     // when the current freeze sent its first interrupt
	boost    *boost        // gorigin's raised priority for the current freeze; nil when none
	boostFor time.Duration // how long a raise lasts at most: boostLimit (tests change it)
	closed   bool

	watchdog   dbg.Watchdog // of Options.MaxFreeze
	lastFreeze atomic.Int64 // time.Duration
}

var _ dbg.Target = (*Process)(nil)

// Attach checks that pid is a process this program may read and trace, and registers
// it so that SIGINT, SIGTERM and SIGHUP thaw it before the program exits (once the
// program called onsignal.Install). It does not stop the process.
func Attach(pid int, opts Options) (*Process, error) {
	if opts.MaxFreeze <= 0 {
		opts.MaxFreeze = defaultMaxFreeze
	}
	if !archSupported {
		return nil, fmt.Errorf("attach %d: the native backend does not support this architecture", pid)
	}
	if pid <= 0 {
		return nil, fmt.Errorf("no process with pid %d: %w", pid, dbg.ErrNoProcess)
	}
	if pid == os.Getpid() {
		return nil, fmt.Errorf("attach %d: that is gorigin itself; a process cannot trace itself", pid)
	}
	st, err := procfs.ReadStatus(pid)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no process with pid %d: %w", pid, dbg.ErrNoProcess)
		}
		return nil, fmt.Errorf("attach %d: %w", pid, err)
	}
	switch {
	case st.Tgid != 0 && st.Tgid != pid:
		return nil, fmt.Errorf("attach %d: that is a thread of process %d: attach %d instead", pid, st.Tgid, st.Tgid)
	case st.State == 'Z' || st.State == 'X':
		return nil, fmt.Errorf("attach %d: the process is a zombie (it exited and its parent has not reaped it): %w",
			pid, dbg.ErrExited)
	case st.TracerPid != 0:
		return nil, tracedError(pid, st.TracerPid)
	}
	p := &Process{pid: pid, opts: opts, watchdog: dbg.Watchdog{Max: opts.MaxFreeze}, boostFor: boostLimit}
	if err := p.checkReadable(); err != nil {
		return nil, err
	}
	if opts.checkOnly {
		return p, nil
	}
	if err := register(p); err != nil {
		return nil, err
	}
	return p, nil
}

// Check makes Attach's checks (a live process, not a thread, a zombie or a kernel
// thread, traced by no one, that this program may read) and stops nothing: the other
// backends run it first, so that bad input gets the same message whatever the backend.
func Check(pid int) error {
	_, err := Attach(pid, Options{checkOnly: true})
	return err
}

// checkReadable makes one small process_vm_readv, which takes the same permission
// check as ptrace attach (uid, CAP_SYS_PTRACE, Yama), so a refusal shows up here
// rather than in the middle of a freeze.
func (p *Process) checkReadable() error {
	maps, err := procfs.Maps(p.pid)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return permissionError(p.pid)
		}
		return err
	}
	if len(maps) == 0 { // a live process always maps something; a kernel thread never does
		return dbg.Errorf(dbg.ErrNotGo, "attach %d: it has no user memory: a kernel thread, not a Go program", p.pid)
	}
	for _, m := range maps {
		if len(m.Perm) > 0 && m.Perm[0] == 'r' && m.End > m.Start {
			var b [8]byte
			rd := &reader{pid: p.pid}
			_, _, e := rd.readv([]dbg.Region{{Addr: m.Start, Buf: b[:]}})
			switch e {
			case syscall.EPERM, syscall.EACCES:
				return permissionError(p.pid)
			case syscall.ESRCH:
				return fmt.Errorf("attach %d: %w", p.pid, dbg.ErrExited)
			}
			return nil // other errors (a mapping that just went away) say nothing about permission
		}
	}
	return nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.pid }

// Exe is /proc/PID/exe, which opens the executable even if it was deleted or replaced.
func (p *Process) Exe() string { return fmt.Sprintf("/proc/%d/exe", p.pid) }

// Mappings parses /proc/PID/maps.
func (p *Process) Mappings() ([]dbg.Mapping, error) { return procfs.Maps(p.pid) }

// LastFreeze is how long the last freeze lasted, from the first thread interrupted to
// the last thread detached (an upper bound of the time the target was stopped).
func (p *Process) LastFreeze() time.Duration { return time.Duration(p.lastFreeze.Load()) }

// Expired reports whether the last freeze outlasted Options.MaxFreeze: the watchdog
// thawed the target, or is about to. Memory read after that is no longer a consistent
// snapshot. ReadBatch keeps working.
func (p *Process) Expired() bool { return p.watchdog.Expired() }

// Freeze stops every thread of the process (see freezeThreads). It is a no-op when
// already frozen. On error nothing stays stopped.
func (p *Process) Freeze() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("freeze %d: process closed", p.pid)
	}
	if p.frozen {
		return nil
	}
	if p.tr == nil {
		p.tr = startTracer()
	}
	deadline := time.Now().Add(p.opts.MaxFreeze)
	// The tracer is raised before the first interrupt, the rest of gorigin once every
	// thread is stopped (raised sooner, gorigin's own garbage collector could hold the CPUs
	// the target's threads need to reach their stops), and all of it restored after the
	// last detach by thawLocked, whoever calls it (Thaw, the watchdog, Close, an error
	// below): see priority_linux.go.
	p.boost = raisePriority(p.boostFor, p.tr.tid)
	var err error
	p.tr.do(func() bool {
		p.threads, p.start, err = freezeThreads(p.pid, deadline)
		return false
	})
	if err == nil {
		p.boost.raiseRest()
	}
	p.frozen = true
	if err != nil {
		if terr := p.thawLocked(); terr != nil {
			err = errors.Join(err, terr)
		}
		return err
	}
	p.watchdog.Start(p.start, p.expire)
	return nil
}

// expire thaws the freeze numbered gen if it is still on: the watchdog fired.
func (p *Process) expire(gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen && p.watchdog.Take(gen) {
		p.thawLocked()
	}
}

// Thaw detaches from every thread, re-injecting signals caught while stopping them,
// so that the process runs on untraced (TracerPid 0). Freeze may be called again.
func (p *Process) Thaw() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.thawLocked()
}

func (p *Process) thawLocked() error {
	if !p.frozen {
		return nil
	}
	p.watchdog.Stop()
	var stuck []int
	tr := p.tr
	retired := tr.do(func() bool {
		stuck = thawThreads(p.threads)
		return len(stuck) > 0
	})
	if !p.start.IsZero() {
		p.lastFreeze.Store(int64(time.Since(p.start)))
	}
	p.boost.restore()
	p.boost = nil
	p.threads, p.frozen, p.start = p.threads[:0], false, time.Time{}
	if retired {
		// The tracer thread is exiting, which detaches the stuck threads.
		p.tr = nil
		if err := waitUntraced(p.pid, stuck, tr.tid, time.Second); err != nil {
			return fmt.Errorf("thaw %d: %w", p.pid, err)
		}
	}
	return nil
}

// Threads lists the process's threads. While frozen each one carries its registers
// (PC, SP, BP and the thread pointer); otherwise only the TID is set.
func (p *Process) Threads() ([]dbg.Thread, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.frozen {
		tids, err := procfs.Tasks(p.pid)
		if err != nil {
			return nil, err
		}
		threads := make([]dbg.Thread, len(tids))
		for i, tid := range tids {
			threads[i].TID = tid
		}
		return threads, nil
	}
	threads := make([]dbg.Thread, 0, len(p.threads))
	var err error
	p.tr.do(func() bool {
		for _, t := range p.threads {
			th := dbg.Thread{TID: t.tid}
			if e := getRegs(&th); e != nil {
				if e == syscall.ESRCH {
					continue // killed while stopped
				}
				err = fmt.Errorf("registers of thread %d of pid %d: %w", t.tid, p.pid, e)
				return false
			}
			threads = append(threads, th)
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	if len(threads) == 0 {
		return nil, fmt.Errorf("threads of pid %d: %w", p.pid, dbg.ErrExited)
	}
	return threads, nil
}

// Close thaws and detaches, ends the tracer thread and unregisters the process from
// the signal handler. It is idempotent.
func (p *Process) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	err := p.thawLocked()
	if p.tr != nil {
		p.tr.stop()
		p.tr = nil
	}
	unregister(p)
	return err
}
