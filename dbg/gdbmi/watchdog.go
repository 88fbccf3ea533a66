package gdbmi

// The --max-freeze watchdog of the GDB backend, the counterpart of dbg/native's: when a
// freeze outlasts ProcessOptions.MaxFreeze it lets the target go and marks the freeze
// expired (capture then marks the snapshot partial).
//
// Gently first: if no MI command is in flight (the Process's lock is free within
// watchdogGrace) it sends -target-detach, which lets every thread go untraced, as the
// native watchdog does; reads then go to /proc/PID/mem directly. Otherwise (a read or the
// stop itself is in flight, and MI runs one command at a time), or if GDB does not detach
// within a second, it kills GDB: the kernel detaches every thread, and the target, which
// GDB's attach may have left with a SIGSTOP pending, gets SIGCONT once it is untraced,
// unless it was stopped (State T) before gorigin came. The command in flight then fails,
// saying so: a GDB that does not answer within --max-freeze (hung, or printing garbage)
// ends the attach with an error, not with a snapshot.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/procfs"
)

// watchdogGrace is how long the watchdog waits for the command in flight before it
// kills GDB.
const watchdogGrace = 100 * time.Millisecond

// expire lets the freeze numbered gen go if it is still on: the watchdog fired.
func (p *Process) expire(gen uint64) {
	deadline := time.Now().Add(watchdogGrace)
	for !p.mu.TryLock() {
		if time.Now().After(deadline) {
			p.release(gen, false)
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	defer p.mu.Unlock()
	if p.closed || !p.frozen || !p.watchdog.Take(gen) {
		return
	}
	if _, _, err := p.c.Run(context.Background(), time.Second, "-target-detach"); err != nil {
		p.release(gen, true) // GDB did not let it go: end GDB
		return
	}
	p.released.Store(true)
	p.restop()
	p.lastHard.Store(int64(time.Since(p.freezeStart)))
	close(p.releasedDone)
}

// restop stops the target again if it was stopped (State T) before the attach: a detach
// resumes it.
func (p *Process) restop() {
	if p.stopped {
		syscall.Kill(p.pid, syscall.SIGSTOP)
	}
}

// release kills GDB to let the freeze numbered gen go, unless a thaw took it already
// (owned: the caller's thaw took it, and failed).
func (p *Process) release(gen uint64, owned bool) {
	if !owned && !p.watchdog.Take(gen) {
		return // thawed meanwhile
	}
	if p.released.Swap(true) {
		return
	}
	p.c.Kill()
	select {
	case <-p.c.Dead():
	case <-time.After(2 * time.Second):
	}
	for i := 0; i < 200 && tracerOf(p.pid) != 0; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if !p.stopped {
		syscall.Kill(p.pid, syscall.SIGCONT)
	}
	p.restop()
	p.lastHard.Store(int64(time.Since(p.freezeStart)))
	close(p.releasedDone)
}

// Expired reports whether the watchdog let the last freeze go because it outlasted
// ProcessOptions.MaxFreeze, or whether it is still on past that limit.
func (p *Process) Expired() bool { return p.watchdog.Expired() }

// tracerOf is the TracerPid of pid (0: untraced or gone).
func tracerOf(pid int) int {
	st, _ := procfs.ReadStatus(pid)
	return st.TracerPid
}

// readMem reads regions from /proc/PID/mem, after the watchdog ended GDB.
func readMem(pid int, regions []dbg.Region) error {
	f, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("read %d: %w", pid, dbg.ErrExited)
		}
		return fmt.Errorf("read %d through /proc/%d/mem: %w", pid, pid, err)
	}
	defer f.Close()
	var rerr *dbg.ReadError
	for i, r := range regions {
		if len(r.Buf) == 0 {
			continue
		}
		if _, err := f.ReadAt(r.Buf, int64(r.Addr)); err != nil {
			if rerr == nil {
				rerr = &dbg.ReadError{Err: fmt.Errorf("read 0x%x: %w", r.Addr, err)}
			}
			rerr.Failed = append(rerr.Failed, i)
		}
	}
	if rerr != nil {
		return rerr
	}
	return nil
}

// tracingStops counts the threads of pid in a tracing stop (State t).
func tracingStops(pid int) (int, error) {
	tids, err := procfs.Tasks(pid)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, tid := range tids {
		if st, err := procfs.ReadTaskStatus(pid, tid); err == nil && st.State == 't' {
			n++
		}
	}
	return n, nil
}
