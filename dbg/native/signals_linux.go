package native

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// registry holds the attached processes, so that a terminating signal can thaw them.
var registry struct {
	mu    sync.Mutex
	procs map[*Process]struct{}
	sigs  chan os.Signal // non-nil while a process is attached
}

// register adds p and, for the first attached process, starts handleSignals.
func register(p *Process) error {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	for q := range registry.procs {
		if q.pid == p.pid {
			return fmt.Errorf("attach %d: already attached by this program: close the other attachment first", p.pid)
		}
	}
	if registry.procs == nil {
		registry.procs = make(map[*Process]struct{})
	}
	registry.procs[p] = struct{}{}
	if registry.sigs == nil {
		registry.sigs = make(chan os.Signal, 1)
		signal.Notify(registry.sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		go handleSignals(registry.sigs)
	}
	return nil
}

// unregister removes p and, with the last process, gives the signals back to their
// previous handling.
func unregister(p *Process) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	delete(registry.procs, p)
	if len(registry.procs) == 0 && registry.sigs != nil {
		signal.Stop(registry.sigs)
		close(registry.sigs)
		registry.sigs = nil
	}
}

// closeWait is how long the signal handler waits for the processes to be thawed
// before exiting anyway (exiting detaches too: the kernel releases every tracee).
const closeWait = 2 * time.Second

// handleSignals runs while at least one process is attached. On SIGINT, SIGTERM or
// SIGHUP it thaws and detaches every attached process, then exits the program with
// status 128+signal: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP. A program that
// wants to handle these signals itself must Close its processes first.
func handleSignals(sigs chan os.Signal) {
	sig, ok := <-sigs
	if !ok {
		return
	}
	closeAll()
	code := 128
	if s, ok := sig.(syscall.Signal); ok {
		code += int(s)
	}
	fmt.Fprintf(os.Stderr, "gorigin: %v: target thawed and detached\n", sig)
	os.Exit(code)
}

func closeAll() {
	registry.mu.Lock()
	procs := make([]*Process, 0, len(registry.procs))
	for p := range registry.procs {
		procs = append(procs, p)
	}
	registry.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() { p.Close() })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeWait):
	}
}
