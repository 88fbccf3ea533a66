package native

import (
	"runtime"
	"syscall"
	"unsafe"
)

// tracer is the one goroutine, locked to its OS thread, that makes every ptrace call
// for a Process: the kernel ties a tracee to the thread that attached it, so
// PTRACE_INTERRUPT, GETREGS and DETACH must come from that same thread.
//
// When the goroutine ends it never unlocks, so the runtime ends its thread, and the
// kernel detaches whatever that thread still traces. That is how retire gets rid of a
// tracee that cannot be detached by PTRACE_DETACH (one that never reached its stop).
type tracer struct {
	work chan tracerReq
	tid  int // the OS thread id, the TracerPid the target's threads show
}

type tracerReq struct {
	f    func() (retire bool)
	done chan bool // receives retire
}

func startTracer() *tracer {
	t := &tracer{work: make(chan tracerReq)}
	ready := make(chan struct{})
	go t.loop(ready)
	<-ready
	return t
}

func (t *tracer) loop(ready chan struct{}) {
	runtime.LockOSThread()
	if syscall.Gettid() == syscall.Getpid() {
		// The main thread never exits (the runtime wedges it instead), so it could
		// not detach by exiting. Start over on another thread: while this goroutine
		// holds the main thread, the new one cannot be scheduled on it.
		go t.loop(ready)
		<-ready
		runtime.UnlockOSThread()
		return
	}
	t.tid = syscall.Gettid()
	close(ready)
	for req := range t.work {
		retire := req.f()
		req.done <- retire
		if retire {
			return // without UnlockOSThread: the thread exits and the kernel detaches
		}
	}
}

// do runs f on the tracer thread and waits for it. It reports whether f retired the
// tracer, after which the tracer must not be used again.
func (t *tracer) do(f func() (retire bool)) (retired bool) {
	done := make(chan bool, 1)
	t.work <- tracerReq{f: f, done: done}
	return <-done
}

// stop ends the tracer goroutine (and its thread).
func (t *tracer) stop() { close(t.work) }

func ptrace(req, tid int, addr, data uintptr) syscall.Errno {
	_, _, e := syscall.RawSyscall6(syscall.SYS_PTRACE, uintptr(req), uintptr(tid), addr, data, 0, 0)
	return e
}

// wait4 polls thread tid for a state change without blocking (WNOHANG). It returns
// the tid (or 0 when nothing happened yet) and the raw status.
func wait4(tid int) (int, uint32, syscall.Errno) {
	var status uint32
	r, _, e := syscall.RawSyscall6(syscall.SYS_WAIT4, uintptr(tid), uintptr(unsafe.Pointer(&status)),
		syscall.WALL|syscall.WNOHANG, 0, 0, 0)
	return int(r), status, e
}

// waitStatus decodes a wait status the way the ptrace(2) manual describes it.
type waitStatus uint32

func (w waitStatus) stopped() bool    { return w&0xff == 0x7f }
func (w waitStatus) stopSig() int     { return int(w>>8) & 0xff }
func (w waitStatus) event() int       { return int(w >> 16) }
func (w waitStatus) terminated() bool { return !w.stopped() && w != 0xffff } // exited or killed
