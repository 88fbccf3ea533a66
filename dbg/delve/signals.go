package delve

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// registry holds the open targets, so that a terminating signal lets them go (detaches
// Delve, or continues a dlv session gorigin halted) before the program exits.
var registry struct {
	mu      sync.Mutex
	targets map[io.Closer]struct{}
	sigs    chan os.Signal // non-nil while a target is open
}

func register(c io.Closer) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.targets == nil {
		registry.targets = map[io.Closer]struct{}{}
	}
	registry.targets[c] = struct{}{}
	if registry.sigs == nil {
		registry.sigs = make(chan os.Signal, 1)
		signal.Notify(registry.sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		go handleSignals(registry.sigs)
	}
}

func unregister(c io.Closer) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	delete(registry.targets, c)
	if len(registry.targets) == 0 && registry.sigs != nil {
		signal.Stop(registry.sigs)
		close(registry.sigs)
		registry.sigs = nil
	}
}

// closeWait bounds how long the signal handler waits for the targets to be let go.
const closeWait = 3 * time.Second

// handleSignals closes every open target on SIGINT, SIGTERM or SIGHUP and exits with
// status 128+signal.
func handleSignals(sigs chan os.Signal) {
	sig, ok := <-sigs
	if !ok {
		return
	}
	registry.mu.Lock()
	var open []io.Closer
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
