package snapshot

// The snapshot's vocabularies: each a string type whose values are the words the JSON
// holds, so a snapshot encodes as it always has while Go code names them by constant.

// Status is a goroutine's scheduling status, named as the runtime's traceback names it.
type Status string

const (
	StatusIdle      Status = "idle"
	StatusRunnable  Status = "runnable"
	StatusRunning   Status = "running"
	StatusSyscall   Status = "syscall"
	StatusWaiting   Status = "waiting"
	StatusDead      Status = "dead"
	StatusCopyStack Status = "copystack"
	StatusPreempted Status = "preempted"
	StatusLeaked    Status = "leaked" // Go 1.26's goroutine leak detector found it leaked
	StatusUnknown   Status = "unknown"
)

// Statuses are the statuses a snapshot may hold.
var Statuses = []Status{StatusIdle, StatusRunnable, StatusRunning, StatusSyscall, StatusWaiting,
	StatusDead, StatusCopyStack, StatusPreempted, StatusLeaked, StatusUnknown}

func (s Status) String() string { return string(s) }

// Known reports whether s is one of Statuses.
func (s Status) Known() bool {
	for _, k := range Statuses {
		if s == k {
			return true
		}
	}
	return false
}

// SourceKind is what a snapshot was read from.
type SourceKind string

const (
	KindLive SourceKind = "live" // a running process
	KindCore SourceKind = "core" // a core dump
	KindDump SourceKind = "dump" // a goroutine dump (text, pprof) or a saved snapshot
)

func (k SourceKind) String() string { return string(k) }

// Known reports whether k is live, core or dump.
func (k SourceKind) Known() bool { return k == KindLive || k == KindCore || k == KindDump }

// Backend is what read a snapshot: a debugger backend for a process or a core, the
// dump reader, or the in-process agent.
type Backend string

const (
	BackendNative Backend = "native" // gorigin's own ptrace and core reader
	BackendGDB    Backend = "gdb"    // GDB over its machine interface
	BackendDelve  Backend = "delve"  // Delve, embedded
	BackendDlv    Backend = "dlv"    // a running headless dlv
	BackendText   Backend = "text"   // the dump reader
	BackendAgent  Backend = "agent"  // the agent, inside the program
)

func (b Backend) String() string { return string(b) }

// FreezeMode is how a live process was read.
type FreezeMode string

const (
	FreezeAlways FreezeMode = "always" // stopped while copying: a consistent snapshot
	FreezeNever  FreezeMode = "never"  // copied running, twice, what changed marked
)

func (m FreezeMode) String() string { return string(m) }

// Verdict is what leak analysis says of a goroutine.
type Verdict string

const (
	Leaked  Verdict = "leaked"  // proven: nothing that can run reaches what it waits on
	Live    Verdict = "live"    // it can run, or what it waits on is reachable
	Unknown Verdict = "unknown" // it waits on something the analysis does not model
)

func (v Verdict) String() string { return string(v) }

// KeyKind is what a Key groups goroutines by.
type KeyKind string

const (
	ByOrigin   KeyKind = "origin"   // the go statement that created them
	ByStart    KeyKind = "start"    // the function they started in
	ByLocation KeyKind = "location" // their top user frame (needs stacks)
	ByWait     KeyKind = "wait"     // their status and wait reason
	ByLabel    KeyKind = "label"    // a pprof label's value (Key.Label names it)
	ByParent   KeyKind = "parent"   // the goroutine that created them
	ByObject   KeyKind = "object"   // the channel, mutex, WaitGroup or Cond they wait on
)

func (k KeyKind) String() string { return string(k) }
