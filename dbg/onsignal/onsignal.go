// Package onsignal lets every target gorigin holds go when gorigin is told to stop. Once a
// program has called Install (gorigin's cli does, first thing), and while at least one
// target is registered, SIGINT, SIGTERM and SIGHUP close them all (thaw and detach, or
// continue a debugger session gorigin halted), waiting a bounded time, and then exit with
// status 128+signal: 130, 143, 129. With nothing registered the signals keep their usual
// handling. The backends register their targets whether or not Install was called: a
// program embedding a backend that does not call it handles these signals itself and
// must close its targets first.
package onsignal

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// closeWait bounds how long the handler waits for the targets to be let go before exiting
// anyway (a traced process is detached by the kernel when gorigin exits, too).
const closeWait = 3 * time.Second

var registry struct {
	mu        sync.Mutex
	installed bool
	targets   map[io.Closer]struct{}
	sigs      chan os.Signal // non-nil while installed and a target is registered
}

// Install has SIGINT, SIGTERM and SIGHUP let the registered targets go and exit, from now
// on, while any is registered. It is for the program's main package (or its command
// line) to call, once.
func Install() {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	registry.installed = true
	if len(registry.targets) > 0 {
		startLocked()
	}
}

// Register adds a target; once installed, the first one starts the signal handler.
func Register(c io.Closer) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.targets == nil {
		registry.targets = map[io.Closer]struct{}{}
	}
	registry.targets[c] = struct{}{}
	if registry.installed {
		startLocked()
	}
}

func startLocked() {
	if registry.sigs == nil {
		registry.sigs = make(chan os.Signal, 1)
		signal.Notify(registry.sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		go handle(registry.sigs)
	}
}

// Unregister removes a target; with the last one the signals get their usual handling back.
func Unregister(c io.Closer) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	delete(registry.targets, c)
	if len(registry.targets) == 0 && registry.sigs != nil {
		signal.Stop(registry.sigs)
		close(registry.sigs)
		registry.sigs = nil
	}
}

func handle(sigs chan os.Signal) {
	sig, ok := <-sigs
	if !ok {
		return
	}
	registry.mu.Lock()
	open := make([]io.Closer, 0, len(registry.targets))
	for c := range registry.targets {
		open = append(open, c)
	}
	registry.mu.Unlock()
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, c := range open {
			wg.Go(func() { c.Close() })
		}
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(closeWait):
	}
	code := 128
	if s, ok := sig.(syscall.Signal); ok {
		code += int(s)
	}
	fmt.Fprintf(os.Stderr, "gorigin: %v: target let go\n", sig)
	os.Exit(code)
}
