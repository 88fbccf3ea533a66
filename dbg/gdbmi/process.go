package gdbmi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/procfs"
	"github.com/gorigin-dev/gorigin/dbg/stopguard"
	"github.com/gorigin-dev/gorigin/internal/mi"
)

// ProcessOptions tune a Process.
type ProcessOptions struct {
	// GDB is the gdb executable ("" = gdb on PATH).
	GDB string
	// Timeout bounds every MI command (0 = DefaultTimeout).
	Timeout time.Duration
	// MaxFreeze bounds a freeze (0 = 2s): how long Freeze waits for every thread to stop,
	// and, from the interrupt on, how long the target stays stopped before a watchdog lets
	// it go (see watchdog.go).
	MaxFreeze time.Duration
}

// Process is a live process that GDB is attached to in non-stop mode: its threads keep
// running (GDB reads their memory through /proc/PID/mem) until Freeze stops them all.
// Its methods are safe for concurrent use.
type Process struct {
	pid  int
	opts ProcessOptions
	c    *mi.Client
	g    *stopguard.Guard

	mu       sync.Mutex
	attached bool
	frozen   bool
	closed   bool

	tmu     sync.Mutex     // guards running and changed, updated from async records
	running map[string]int // GDB thread id → 1 while running
	changed chan struct{}  // signalled when a thread stops

	freezeStart time.Time
	lastFreeze  time.Duration
	attachStop  time.Duration // how long GDB's attach took: the target was stopped within it
	stopped     bool          // the target was stopped (State T) before the attach

	// The watchdog (watchdog.go).
	watchdog     dbg.Watchdog  // of ProcessOptions.MaxFreeze
	released     atomic.Bool   // the watchdog killed GDB: reads go to /proc/PID/mem
	releasedDone chan struct{} // closed once the watchdog let the target go
	lastHard     atomic.Int64  // the freeze the watchdog ended, as a time.Duration

	// exited is set by GDB's =thread-group-exited: the target died. GDB then answers
	// reads from the executable file's own sections (zeros for runtime.allglen), so no
	// read after it may be believed.
	exited atomic.Bool
}

var _ dbg.Target = (*Process)(nil)

// Attach starts GDB and attaches it to pid without stopping the process for longer than
// GDB's own attach takes: GDB runs in non-stop mode and lets every thread go on at once.
// GDB does not load the executable's symbols (gorigin reads them itself).
func Attach(pid int, opts ProcessOptions) (*Process, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxFreeze <= 0 {
		opts.MaxFreeze = 2 * time.Second
	}
	if pid <= 0 {
		return nil, fmt.Errorf("no process with pid %d: %w", pid, dbg.ErrNoProcess)
	}
	if pid == os.Getpid() {
		return nil, fmt.Errorf("attach %d: that is gorigin itself", pid)
	}
	st, err := procfs.ReadStatus(pid)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no process with pid %d: %w", pid, dbg.ErrNoProcess)
		}
		return nil, fmt.Errorf("attach %d: %w", pid, err)
	}
	if st.TracerPid != 0 {
		return nil, dbg.Errorf(dbg.ErrPermission, "attach %d: process %d already traces it (a debugger?): detach it first", pid, st.TracerPid)
	}
	p := &Process{pid: pid, opts: opts, watchdog: dbg.Watchdog{Max: opts.MaxFreeze}, running: map[string]int{}, changed: make(chan struct{}, 1),
		releasedDone: make(chan struct{}), stopped: procfs.JobStopped(pid)}
	if p.g, err = stopguard.Start(pid, "gorigin-gdb-guard"); err != nil {
		return nil, fmt.Errorf("attach %d: %w", pid, err)
	}
	p.c, err = mi.Start(mi.Options{Path: opts.GDB, OnAsync: p.async})
	if err != nil {
		p.g.Release()
		return nil, err
	}
	p.g.EndGroupOnDeath(p.c.Pid()) // GDB leads its own process group
	for _, cmd := range []string{
		"-gdb-set non-stop on",
		"-gdb-set mi-async on",
		// Nothing of the target's shared libraries or auto-loaded scripts: GDB reads them
		// after attaching while the threads wait (measured: all running 215 ms after the
		// attach with them, 32 ms without).
		"-gdb-set auto-load off",
		"-gdb-set auto-solib-add off",
		"-gdb-set sysroot /nonexistent",
		// The executable without its symbols: otherwise GDB reads them on attach, while the
		// process waits.
		"-file-exec-file " + mi.Quote(fmt.Sprintf("/proc/%d/exe", pid)),
	} {
		if _, _, err := p.runSetup(cmd); err != nil {
			p.c.Close(time.Second)
			p.g.Release()
			return nil, fmt.Errorf("attach %d: set up gdb: %w", pid, err)
		}
	}
	// "attach PID &" in non-stop mode leaves every thread running once attached. GDB
	// stops each thread (SIGSTOP) while it attaches, and lets them go some time after it
	// answers: that stop is measured (attachStop) up to the moment no thread is stopped.
	t0 := time.Now()
	_, out, err := p.runSetup(fmt.Sprintf(`-interpreter-exec console "attach %d &"`, pid))
	if err != nil {
		p.c.Close(time.Second)
		p.g.Resume() // a failed attach may have stopped it all the same
		return nil, attachError(pid, err, out)
	}
	p.attached = true
	if !p.stopped {
		if err := p.waitRunning(); err != nil {
			p.Close()
			return nil, err
		}
	}
	p.attachStop = time.Since(t0)
	return p, nil
}

// waitRunning waits until no thread of the target is in a tracing stop: GDB's attach has
// let them all go. If they are still stopped after a while, it continues them itself.
func (p *Process) waitRunning() error {
	for _, wait := range []time.Duration{time.Second, 5 * time.Second} {
		end := time.Now().Add(wait)
		for time.Now().Before(end) {
			n, err := tracingStops(p.pid)
			if err != nil || n == 0 {
				return nil // gone: the next step says so
			}
			time.Sleep(time.Millisecond)
		}
		if _, _, err := p.run("-exec-continue --all"); err != nil {
			return fmt.Errorf("attach %d with gdb: let the threads run after the attach: %w", p.pid, err)
		}
	}
	n, _ := tracingStops(p.pid)
	if n > 0 {
		return fmt.Errorf("attach %d with gdb: %d thread(s) still stopped 6s after the attach", p.pid, n)
	}
	return nil
}

func attachError(pid int, err error, out string) error {
	var ge *mi.Error
	if errors.As(err, &ge) {
		switch {
		case strings.Contains(ge.Msg, "No such process"):
			return fmt.Errorf("attach %d: %s: %w", pid, ge.Msg, dbg.ErrNoProcess)
		case strings.Contains(ge.Msg, "Operation not permitted"), strings.Contains(ge.Msg, "ptrace"):
			return fmt.Errorf("attach %d with gdb: %s: %s: %w", pid, ge.Msg, dbg.PtraceRemedy(), dbg.ErrPermission)
		}
	}
	return fmt.Errorf("attach %d with gdb: %w %s", pid, err, strings.TrimSpace(out))
}

func (p *Process) run(cmd string) (mi.Record, string, error) {
	return p.c.Run(context.Background(), p.opts.Timeout, cmd)
}

// runSetup runs a command of the attach, which waits for GDB to start and to read the
// process: it gets at least StartupTimeout.
func (p *Process) runSetup(cmd string) (mi.Record, string, error) {
	return p.c.Run(context.Background(), max(p.opts.Timeout, StartupTimeout), cmd)
}

// async tracks which threads run, from GDB's *running, *stopped and =thread-… records.
func (p *Process) async(r mi.Record) {
	p.tmu.Lock()
	defer p.tmu.Unlock()
	id := r.Results.String("thread-id")
	switch {
	case r.Kind == mi.KindNotify && r.Class == "thread-created":
		p.running[r.Results.String("id")] = 1
	case r.Kind == mi.KindNotify && r.Class == "thread-exited":
		delete(p.running, r.Results.String("id"))
	case r.Kind == mi.KindNotify && r.Class == "thread-group-exited":
		clear(p.running)
		p.exited.Store(true)
	case r.Kind == mi.KindExec && r.Class == "running":
		if id == "all" {
			for k := range p.running {
				p.running[k] = 1
			}
		} else {
			p.running[id] = 1
		}
	case r.Kind == mi.KindExec && r.Class == "stopped":
		if id == "all" || r.Results.String("stopped-threads") == "all" {
			clear(p.running)
		} else {
			delete(p.running, id)
		}
		for _, v := range r.Results.List("stopped-threads") {
			if s, ok := v.(string); ok {
				delete(p.running, s)
			}
		}
	default:
		return
	}
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

func (p *Process) nRunning() int {
	p.tmu.Lock()
	defer p.tmu.Unlock()
	return len(p.running)
}

// Pid is the target's process id.
func (p *Process) Pid() int { return p.pid }

// Exe is /proc/PID/exe.
func (p *Process) Exe() string { return fmt.Sprintf("/proc/%d/exe", p.pid) }

// GDBPid is the process id of the GDB this Process drives.
func (p *Process) GDBPid() int { return p.c.Pid() }

// LastFreeze is how long the target was stopped for the last freeze: from the interrupt
// to GDB's answer that every thread runs again (or to the watchdog's SIGCONT), plus the
// stop of GDB's own attach (the time its attach command took), so that the one snapshot
// a Process takes reports every stop it cost the target.
func (p *Process) LastFreeze() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastFreeze == 0 {
		return 0
	}
	return p.attachStop + p.lastFreeze
}

// Freeze stops every thread (GDB's -exec-interrupt --all) and waits until GDB reports
// them all stopped.
func (p *Process) Freeze() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || !p.attached || p.released.Load() {
		return fmt.Errorf("freeze %d: gdb is not attached", p.pid)
	}
	if p.frozen {
		return nil
	}
	p.freezeStart = time.Now()
	p.frozen = true
	p.watchdog.Start(p.freezeStart, p.expire)
	if _, _, err := p.run("-exec-interrupt --all"); err != nil {
		return p.freezeError(fmt.Errorf("freeze %d: %w", p.pid, err))
	}
	deadline := time.NewTimer(p.opts.MaxFreeze)
	defer deadline.Stop()
	for p.nRunning() > 0 {
		select {
		case <-p.changed:
		case <-p.c.Dead():
			return p.freezeError(fmt.Errorf("freeze %d: %w", p.pid, p.c.Err()))
		case <-deadline.C:
			return fmt.Errorf("freeze %d: %d thread(s) did not stop within %v: %w", p.pid, p.nRunning(), p.opts.MaxFreeze, dbg.ErrStopTimeout)
		}
	}
	return nil
}

// Thaw lets every thread run again (-exec-continue --all).
func (p *Process) Thaw() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.thaw()
}

// freezeError says that the watchdog ended GDB, if it did.
func (p *Process) freezeError(err error) error {
	if p.released.Load() {
		return p.killedError(err)
	}
	return err
}

// killedError is the failure of the command in flight when the watchdog killed GDB.
func (p *Process) killedError(err error) error {
	note := p.c.OddNote()
	if strings.Contains(err.Error(), note) {
		note = ""
	}
	return fmt.Errorf("%w: gdb did not answer in time, within --max-freeze %v: gorigin ended gdb to let the target go%s", err, p.opts.MaxFreeze, note)
}

func (p *Process) thaw() error {
	if !p.frozen || p.closed {
		return nil
	}
	p.frozen = false
	if !p.watchdog.Stop() {
		<-p.releasedDone // the watchdog is ending GDB
		p.lastFreeze = time.Duration(p.lastHard.Load())
		return nil
	}
	if p.gone() != nil {
		p.lastFreeze = time.Since(p.freezeStart)
		return nil // nothing left to let go (GDB would take seconds to say so)
	}
	_, _, err := p.run("-exec-continue --all")
	p.lastFreeze = time.Since(p.freezeStart)
	if err != nil {
		return fmt.Errorf("thaw %d: %w", p.pid, err)
	}
	return nil
}

// Close lets the target run, detaches, and ends GDB (killing it if it does not exit,
// which makes the kernel detach). Safe to call more than once.
func (p *Process) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	terr := p.thaw()
	p.closed = true
	if p.released.Load() {
		// The watchdog ended GDB and let the target go (or left it stopped, as found).
		p.c.Close(time.Second)
		p.g.Release()
		return terr
	}
	var derr error
	if p.attached && p.gone() == nil {
		if _, _, err := p.c.Run(context.Background(), 5*time.Second, "-target-detach"); err != nil {
			derr = fmt.Errorf("detach %d: %w", p.pid, err)
			p.c.Kill()
		}
	}
	p.c.Close(2 * time.Second)
	if derr != nil || terr != nil {
		p.g.Resume()
	} else {
		p.g.Release()
	}
	if derr != nil {
		return derr
	}
	return terr
}

// ReadBatch reads every region with -data-read-memory-bytes, one request per region (or
// per 4 MiB of it). Regions GDB cannot read are listed in the *dbg.ReadError.
func (p *Process) ReadBatch(regions []dbg.Region) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("read %d: gdb was closed", p.pid)
	}
	if p.released.Load() {
		return readMem(p.pid, regions)
	}
	err := readBatch(p.c, p.opts.Timeout, strconv.Itoa(p.pid), regions)
	if err != nil && p.released.Load() {
		return p.killedError(err) // the watchdog ended GDB during the read
	}
	if gerr := p.gone(); gerr != nil {
		return gerr // what GDB answered came from the executable file, not the process
	}
	return err
}

// gone is an error wrapping dbg.ErrExited once the target has died: GDB said so
// (=thread-group-exited, which it prints before answering any later command), or the
// kernel does (no /proc/PID, or a zombie).
func (p *Process) gone() error {
	if p.exited.Load() || procfs.Dead(p.pid) {
		return fmt.Errorf("read %d: %w", p.pid, dbg.ErrExited)
	}
	return nil
}

// Mappings reads /proc/PID/maps.
func (p *Process) Mappings() ([]dbg.Mapping, error) { return procfs.Maps(p.pid) }

// Threads lists the threads GDB knows, with the PC of each stopped one (from
// -thread-info; SP, BP and FS are not read).
func (p *Process) Threads() ([]dbg.Thread, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.released.Load() {
		return nil, fmt.Errorf("threads of %d: gdb was ended past --max-freeze", p.pid)
	}
	return threads(p.c, p.opts.Timeout, strconv.Itoa(p.pid))
}
