package delve

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-delve/delve/pkg/proc"
	"github.com/go-delve/delve/pkg/proc/native"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/onsignal"
	"github.com/gorigin-dev/gorigin/dbg/procfs"
	"github.com/gorigin-dev/gorigin/dbg/stopguard"
)

// Options tune a Process.
type Options struct {
	// MaxFreeze: a watchdog detaches Delve if the process stays stopped longer than this
	// (0 = 2s). Delve's own attach counts: it loads the executable's debug information
	// while the process is stopped (0.4–0.9 s for a small service on a loaded machine),
	// and cannot be cut short: if it alone outlasts MaxFreeze, Freeze detaches as soon as
	// it returns, reads go through process_vm_readv, and Expired reports true.
	MaxFreeze time.Duration
	// HoldBreakpoints, for tests, keeps the breakpoints Delve's attach sets in place this
	// long: the moment in which a SIGKILL leaves Delve's int3s in the target
	// (integration/reliability's TestDelveKilledWithBreakpoints; gorigin's cli takes it
	// from $GORIGIN_TEST_HOLD_BREAKPOINTS).
	HoldBreakpoints time.Duration
}

// Process is a live Linux process behind Delve's native backend.
//
// Delve reads memory only from a process it has stopped, and its attach stops the whole
// process (PTRACE_ATTACH on every thread) and then loads the executable's DWARF, which
// takes a while. So until Freeze the process is not traced at all and ReadBatch reads it
// with process_vm_readv (capture's planning and warm-up reads, which never end up in a
// snapshot taken with FreezeAlways); Freeze is Delve's attach, every read while frozen goes
// through Delve's memory (proc.Target.Memory().ReadMemory), and Thaw is Delve's
// Detach(false), which leaves the process running. LastFreeze measures from the call to
// Delve's attach to the return of its detach: Delve's debug-info load is inside the freeze,
// and so is the 50 ms Delve sleeps after detaching (to catch a stray SIGSTOP), during which
// the process already runs again.
//
// Delve's attach sets its own breakpoints, and nothing in pkg/proc turns that off: it
// writes one int3 byte (with PTRACE_POKEDATA) after the prologue of runtime.fatalpanic
// (or runtime.startpanic), runtime.throw, runtime.fatal and runtime.fatalsignal, to catch
// crashes (plus, for a non-Go main executable only, one at the dynamic linker's r_brk).
// Freeze clears them as soon as Delve's attach returns, before any read, so the process
// is frozen and thawed with its own code (integration's TestDelveAttachWritesBreakpoints
// shows both). That write is the one exception to gorigin's read-only rule, and the
// reason the native backend stays the default. If gorigin is killed in the few
// milliseconds between Delve's write and gorigin's clearing (after the DWARF load, inside
// Freeze), the kernel detaches and the stop guard resumes the process; the int3s would
// stay, and a later panic or fatal error in it would end with SIGTRAP instead of the
// runtime's message (2 of 109 random kills did so). So before Delve's attach, Freeze reads
// those functions' code from the executable (crashCode) and gives it to the guard, which
// writes it back before resuming the process. When that code cannot be read (an
// executable that does not match the process) the attach goes on without it.
//
// A process found stopped (State T, kill -STOP) before the attach is stopped again
// (SIGSTOP) after the detach: Delve's detach sends SIGCONT to a process it finds stopped
// 50 ms after detaching, so it runs for that moment.
type Process struct {
	pid  int
	opts Options

	mu       sync.Mutex // serialises everything below and every use of grp
	grp      *proc.TargetGroup
	tgt      *proc.Target
	guard    *stopguard.Guard
	start    time.Time
	closed   bool
	watchdog dbg.Watchdog // of Options.MaxFreeze
	last     atomic.Int64 // time.Duration of the last freeze
	stopped  bool         // the process was stopped (State T) before the attach: left stopped
	crash    []codePatch  // the code Delve's attach writes breakpoints into, for the guard
}

var _ dbg.Target = (*Process)(nil)

const defaultMaxFreeze = 2 * time.Second

// Attach checks that pid can be traced and read, without stopping it.
func Attach(pid int, opts Options) (*Process, error) {
	if opts.MaxFreeze <= 0 {
		opts.MaxFreeze = defaultMaxFreeze
	}
	if err := checkProcess(pid); err != nil {
		return nil, err
	}
	maps, err := readMappings(pid)
	if err != nil {
		return nil, err
	}
	// One small read takes the same permission check as ptrace attach.
	for _, m := range maps {
		if len(m.Perm) > 0 && m.Perm[0] == 'r' && m.End > m.Start {
			var b [8]byte
			err := vmRead(pid, []dbg.Region{{Addr: m.Start, Buf: b[:]}})
			if errors.Is(err, dbg.ErrPermission) || errors.Is(err, dbg.ErrExited) {
				return nil, err
			}
			break
		}
	}
	p := &Process{pid: pid, opts: opts, watchdog: dbg.Watchdog{Max: opts.MaxFreeze}}
	onsignal.Register(p)
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.pid }

// Exe is /proc/PID/exe.
func (p *Process) Exe() string { return fmt.Sprintf("/proc/%d/exe", p.pid) }

// Mappings parses /proc/PID/maps.
func (p *Process) Mappings() ([]dbg.Mapping, error) { return readMappings(p.pid) }

// LastFreeze is how long the last freeze held the process, from Delve's attach to the end
// of its detach.
func (p *Process) LastFreeze() time.Duration { return time.Duration(p.last.Load()) }

// Expired reports whether the last freeze outlasted Options.MaxFreeze: the watchdog let
// the process go, or it is still frozen past the limit (the watchdog is about to fire,
// waiting for a read to end).
func (p *Process) Expired() bool { return p.watchdog.Expired() }

// ReadBatch reads through Delve while frozen, with process_vm_readv otherwise.
func (p *Process) ReadBatch(regions []dbg.Region) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tgt == nil {
		return vmRead(p.pid, regions)
	}
	return readEach(p.tgt.Memory(), regions)
}

// Freeze attaches Delve, which stops every thread, and removes the breakpoints Delve's
// attach set.
func (p *Process) Freeze() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("freeze %d: process closed", p.pid)
	}
	if p.grp != nil {
		return nil
	}
	if p.crash == nil {
		p.crash, _ = crashCode(p.pid) // nil on error: the guard only resumes
	}
	g, err := stopguard.Start(p.pid, "gorigin-delve-guard")
	if err != nil {
		return fmt.Errorf("freeze %d: %w", p.pid, err)
	}
	for _, c := range p.crash {
		g.RestoreOnDeath(c.addr, c.code)
	}
	p.guard = g
	p.stopped = procfs.JobStopped(p.pid)
	// The freeze clock starts before Delve's attach: its PTRACE_ATTACH stops the process
	// first thing, and the process stays stopped while Delve loads the debug information.
	p.start = time.Now()
	p.watchdog.Start(p.start, p.expire)
	grp, err := native.Attach(p.pid, nil, nil)
	if err != nil {
		p.watchdog.Stop()
		p.last.Store(int64(time.Since(p.start)))
		if traced(p.pid) {
			// Delve failed after attaching and could not detach: the guard's job.
			p.guard.Resume()
		} else {
			p.guard.Release()
		}
		p.guard = nil
		p.restop()
		return attachError(p.pid, err)
	}
	p.grp, p.tgt = grp, grp.Selected
	if p.opts.HoldBreakpoints > 0 {
		time.Sleep(p.opts.HoldBreakpoints)
	}
	for addr := range p.tgt.Breakpoints().M {
		p.tgt.ClearBreakpoint(addr) // restores the original instruction
	}
	// Delve's attach cannot be cut short (its ptrace calls run on its own thread, and the
	// watchdog waits for the lock this holds): if it alone outlasted MaxFreeze, let the
	// process go now rather than after the reads. They then go through process_vm_readv,
	// and the snapshot is marked partial.
	if time.Since(p.start) > p.opts.MaxFreeze {
		p.watchdog.Expire()
		return p.thawLocked()
	}
	return nil
}

// restop stops the process again if it was stopped (State T) before gorigin came:
// Delve's detach, or the guard's SIGCONT, resumed it. It is the process's own state
// given back, not a write to it.
func (p *Process) restop() {
	if p.stopped {
		syscall.Kill(p.pid, syscall.SIGSTOP)
	}
}

func attachError(pid int, err error) error {
	switch {
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return fmt.Errorf("attach %d with delve: %v: %w", pid, err, permissionError(pid))
	case errors.Is(err, syscall.ESRCH):
		return fmt.Errorf("attach %d with delve: %v: %w", pid, err, dbg.ErrExited)
	}
	return fmt.Errorf("attach %d with delve: %w", pid, err)
}

// expire lets the freeze numbered gen go if it is still on: the watchdog fired.
func (p *Process) expire(gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.grp != nil && p.watchdog.Take(gen) {
		p.thawLocked()
	}
}

// Thaw detaches Delve without killing the process: it runs on, untraced.
func (p *Process) Thaw() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.thawLocked()
}

func (p *Process) thawLocked() error {
	p.watchdog.Stop()
	if p.grp == nil {
		return nil
	}
	err := p.grp.Detach(false)
	p.last.Store(int64(time.Since(p.start)))
	p.grp, p.tgt = nil, nil
	if err != nil {
		p.guard.Resume()
		p.guard = nil
		p.restop()
		return fmt.Errorf("detach delve from %d: %w", p.pid, err)
	}
	p.guard.Release()
	p.guard = nil
	p.restop()
	return nil
}

// Threads lists the process's threads, with registers while frozen.
func (p *Process) Threads() ([]dbg.Thread, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tgt == nil {
		return nil, fmt.Errorf("threads of %d: the delve backend lists threads only while frozen", p.pid)
	}
	var out []dbg.Thread
	for _, th := range p.tgt.ThreadList() {
		t := dbg.Thread{TID: th.ThreadID()}
		if regs, err := th.Registers(); err == nil {
			t.PC, t.SP, t.BP, t.FS = regs.PC(), regs.SP(), regs.BP(), regs.TLS()
		}
		out = append(out, t)
	}
	return out, nil
}

// Close detaches (if frozen) and forgets the process. It is idempotent.
func (p *Process) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	err := p.thawLocked()
	onsignal.Unregister(p)
	return err
}
