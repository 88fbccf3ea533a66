// Package dbg is gorigin's controller: the small interface every backend implements to
// stop a Go process (or open a core), copy its memory, and let it go again.
//
// It is deliberately read-only: there is no way to write target memory or registers, or
// to call a function in the target. Runtime knowledge lives in package gstruct, not here.
// Backends live in subpackages (dbg/native: ptrace and process_vm_readv).
package dbg

import (
	"errors"
	"fmt"
	"time"
)

// Region is one read: fill Buf from target memory starting at Addr.
type Region struct {
	Addr uint64
	Buf  []byte
}

// Memory reads target memory.
type Memory interface {
	// ReadBatch fills every region, with as few system calls as the backend can manage.
	// When some regions cannot be read it still fills the others and returns a
	// *ReadError that lists the failures.
	ReadBatch(regions []Region) error
}

// Mapping is one memory mapping of the target (a line of /proc/PID/maps, or a core's
// PT_LOAD with its NT_FILE name).
type Mapping struct {
	Start, End uint64
	Offset     uint64 // offset into Path of Start
	Perm       string // "r-xp" and the like
	Path       string // backing file, or "" for anonymous memory
}

// Thread is one OS thread of the target and, when it is frozen, its registers.
type Thread struct {
	TID        int
	PC, SP, BP uint64
	// FS is the thread pointer (amd64 fs_base), used to find the thread's current g.
	FS uint64
	// Regs are all the general-purpose registers, when the backend has them (nil
	// otherwise), in the order of the kernel's NT_PRSTATUS register set: on amd64
	// user_regs_struct (r15 … gs), on arm64 x0 … x30, sp, pc. The leak analysis scans
	// them as roots: a pointer may live only in a register of a running thread.
	Regs []uint64
}

// Target is a process or core gorigin inspects.
type Target interface {
	Memory
	// Pid is the process id (of the process that produced a core, for a core).
	Pid() int
	// Exe is a path from which the target's executable can be opened and read
	// (/proc/PID/exe for a live process).
	Exe() string
	// Mappings lists the target's memory mappings, to find where the executable was loaded.
	Mappings() ([]Mapping, error)
	// Freeze stops every thread of the target. A backend that cannot or need not stop
	// anything (a core) returns nil.
	Freeze() error
	// Thaw lets every thread run again. It is safe to call when not frozen.
	Thaw() error
	// Threads lists the target's threads; registers are filled only while frozen.
	Threads() ([]Thread, error)
	// Close thaws and detaches. It is safe to call more than once and on every path.
	Close() error
}

// Optional methods. A backend implements them when it can; capture asks for them with a
// type assertion.

// FreezeTimer is a Target that measures its freezes (the live backends); for the others
// capture measures around Freeze and Thaw.
type FreezeTimer interface {
	// LastFreeze is how long the target was stopped for the last freeze (an upper bound:
	// from the first thread stopped to the last let go), or 0 if it never was.
	LastFreeze() time.Duration
}

// Expirer is a Target with a max-freeze watchdog (see Watchdog).
type Expirer interface {
	// Expired reports whether the last freeze outlasted the backend's MaxFreeze: the
	// watchdog let the target go (memory read since is no longer a consistent snapshot;
	// ReadBatch keeps working), or it is still stopped past that limit.
	Expired() bool
}

// ReadError reports the regions a ReadBatch could not read.
type ReadError struct {
	Failed []int // indexes into the regions passed to ReadBatch
	Err    error // the first underlying error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("read target memory: %d region(s) unreadable: %v", len(e.Failed), e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// Errors a backend returns so that callers can tell what happened; all are about the
// input (BadInput). Backends wrap them with a message that says what the user can do.
var (
	ErrNoProcess  = NewInputError("no such process")
	ErrPermission = NewInputError("permission denied")
	ErrExited     = NewInputError("process exited")
	ErrNotGo      = NewInputError("not a Go program")
)

// ErrStopTimeout is wrapped by a Freeze that gave up waiting for every thread to stop
// within the freeze limit (a thread in uninterruptible sleep, or a machine too busy to
// schedule them): nothing stays stopped, and the target can still be read running.
var ErrStopTimeout = errors.New("threads did not stop within the freeze limit")
