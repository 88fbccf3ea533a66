// Package agent lets a Go service take goroutine snapshots of itself, for where no
// debugger may attach (no CAP_SYS_PTRACE, locked-down containers): on a signal it writes a
// gorigin.snapshot/v1 JSON file, optionally it samples per-origin counts into a bounded
// ring and reports groups that keep growing, and Handler serves both over HTTP for
// `gorigin dump URL` and `gorigin watch URL`.
//
// Snapshots come from runtime.Stack(buf, true), parsed by package dump, so they carry
// ids, states, wait reasons, creators (origins) and parent ids, but no stack sizes.
// Labels: runtime.Stack prints them only with GODEBUG=tracebacklabels=1 (off by default
// in Go 1.26, on from Go 1.27); without it they are taken from the goroutine profile
// (debug=1, which has labels per stack but no ids) and given to the goroutines of a stack
// only when that stack has one label set: goroutines that share a stack with goroutines
// of other labels get none, and the snapshot warns. The agent is not a profiler and not
// a debugger: it never reads another process. It needs Go 1.26 (package dump's pprof
// dependency; log/slog needs 1.21).
//
// Cost. The runtime stops the world while it writes the traceback, so one snapshot costs
// a pause proportional to the goroutine count, and the profile read for labels as much
// again in CPU; integration/BENCHMARKS.md has the figures, and
// `go test ./agent -run '^$' -bench Snapshot` measures them on your machine.
//
// With tracebacklabels=1 the labels are exact and the second read is skipped. Keep
// Options.Every at seconds or more on a service with many goroutines.
//
// Serving snapshots over HTTP costs the same per snapshot, so Handler bounds how many it
// takes, whatever the number of clients: one at a time (concurrent requests wait for the
// one being taken and share it, and its JSON, encoded once), and none within
// Options.MinInterval (default 100 ms) of the last one, or within 4 times what the last
// one took if that is longer — such requests wait until then and get the next one, never
// an older one again (which would hide growth from gorigin watch). So N concurrent
// GETs cost one pause and one snapshot's memory instead of N (go test ./agent -run
// ConcurrentGETs -v shows it), and a tight polling loop keeps the service stopped at most
// a fifth of the time.
//
// Idle cost: one goroutine parked in a select, plus os/signal's own goroutine when a
// signal is watched. The signal handler only wakes that goroutine; the snapshot and the
// file write happen there, off the signal path.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"sync"
	"time"
)

// Options configure an agent. The zero value watches SIGUSR1 but writes nowhere: set Dir.
type Options struct {
	// Dir is the directory the snapshot files go to (gorigin-PID-TIME.json); it is created
	// if missing. Empty: no signal is watched and no file is written.
	Dir string
	// Signal triggers a snapshot file; default SIGUSR1 (none on Windows). Pick one the service does not use
	// itself: os/signal delivers it to every channel that asked for it, but a service that
	// exits or reloads on SIGUSR1 would do so too. Never SIGQUIT/SIGINT/SIGTERM.
	Signal os.Signal
	// Keep is how many of this process's snapshot files stay in Dir; the oldest go first.
	// Default 10.
	Keep int
	// Every is the time between periodic samples of per-origin counts; 0 turns sampling off.
	// Each sample is a full snapshot (a stop-the-world pause): keep it at seconds, not
	// milliseconds, on a service with many goroutines.
	Every time.Duration
	// Ring is how many samples are kept; default 60.
	Ring int
	// Window is how many consecutive samples a group must have grown across (at every
	// interval) to be reported as growing; default 4, at least 3.
	Window int
	// OnGrowth is called, on the agent's goroutine, with the groups that have just started
	// growing; a group is reported again only after it stopped growing for a sample.
	OnGrowth func([]Growth)
	// MinInterval is the shortest time between two snapshots the agent's Handler takes:
	// a request within it gets the last snapshot again. Default DefaultMinInterval; the
	// handler also waits at least 4 times as long as its last snapshot took.
	MinInterval time.Duration
	// Logger receives the agent's reports (files written, growth, errors); default
	// slog.Default().
	Logger *slog.Logger
}

// Agent is a running agent. Its methods are safe for concurrent use.
type Agent struct {
	opt     Options
	log     *slog.Logger
	ring    *ring
	handler *handler
	sig     chan os.Signal
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	// last is the path of the last snapshot file written, for tests and logs.
	mu   sync.Mutex
	last string
}

var (
	currentMu sync.Mutex
	current   *Agent
)

// Start starts an agent: one goroutine that waits for the signal and the sampling ticker.
// Stop it with Stop.
func Start(opt Options) (*Agent, error) {
	if opt.Signal == nil {
		opt.Signal = defaultSignal
	}
	if slices.Contains(refusedSignals, opt.Signal) {
		return nil, fmt.Errorf("agent: signal %v ends or stops processes; use SIGUSR1, SIGUSR2 or a real-time signal", opt.Signal)
	}
	if opt.Keep <= 0 {
		opt.Keep = 10
	}
	if opt.Every < 0 {
		return nil, fmt.Errorf("agent: Every %v is negative: use 0 to turn sampling off", opt.Every)
	}
	if opt.Ring <= 0 {
		opt.Ring = 60
	}
	if opt.Window == 0 {
		opt.Window = 4
	}
	if opt.Window < 3 {
		return nil, fmt.Errorf("agent: Window %d: a growth needs at least 3 samples (2 intervals)", opt.Window)
	}
	opt.Ring = max(opt.Ring, opt.Window)
	if opt.MinInterval < 0 {
		return nil, fmt.Errorf("agent: MinInterval %v is negative: use 0 for the default (%v)", opt.MinInterval, DefaultMinInterval)
	}
	if opt.MinInterval == 0 {
		opt.MinInterval = DefaultMinInterval
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Dir != "" {
		if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("agent: snapshot directory: %w", err)
		}
	}
	a := &Agent{
		opt:  opt,
		log:  opt.Logger.With("component", "gorigin-agent"),
		ring: newRing(opt.Ring, opt.Window),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	a.handler = newHandler(a, opt.MinInterval)
	if opt.Dir != "" && opt.Signal != nil {
		a.sig = make(chan os.Signal, 1)
		signal.Notify(a.sig, opt.Signal)
	}
	currentMu.Lock()
	current = a
	currentMu.Unlock()
	go a.run()
	return a, nil
}

// Stop stops the agent's goroutine and stops watching the signal; it returns once the
// goroutine has exited. Calling it again does nothing.
func (a *Agent) Stop() {
	a.once.Do(func() {
		if a.sig != nil {
			signal.Stop(a.sig)
		}
		close(a.stop)
		<-a.done
		currentMu.Lock()
		if current == a {
			current = nil
		}
		currentMu.Unlock()
	})
}

func (a *Agent) run() {
	defer close(a.done)
	var tick <-chan time.Time
	if a.opt.Every > 0 {
		t := time.NewTicker(a.opt.Every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-a.stop:
			return
		case <-a.sig:
			if _, err := a.WriteSnapshot(); err != nil {
				a.log.Error("snapshot on signal failed", "err", err)
			}
		case <-tick:
			if _, err := a.Sample(); err != nil {
				a.log.Error("sample failed", "err", err)
			}
		}
	}
}

// WriteSnapshot takes a snapshot and writes it into Options.Dir, as the signal does, and
// returns the file's path.
func (a *Agent) WriteSnapshot() (string, error) {
	if a.opt.Dir == "" {
		return "", errors.New("agent: no Options.Dir to write snapshots into")
	}
	s, err := Snapshot()
	if err != nil {
		return "", err
	}
	path, err := writeSnapshot(a.opt.Dir, s, a.opt.Keep)
	if path != "" {
		a.mu.Lock()
		a.last = path
		a.mu.Unlock()
		a.log.Info("goroutine snapshot written", "file", path, "goroutines", len(s.Goroutines), "stoppedMicros", s.Source.FreezeMicros)
	}
	return path, err
}

// Sample takes one sample of per-origin counts into the ring, as the ticker does, and
// returns the groups that have just started growing (also given to OnGrowth and logged).
func (a *Agent) Sample() ([]Growth, error) {
	s, err := Snapshot()
	if err != nil {
		return nil, err
	}
	smp, origins := sampleOf(s)
	grown := a.ring.add(smp, origins)
	for _, g := range grown {
		a.log.LogAttrs(context.Background(), slog.LevelWarn, "goroutine group grew at every sample",
			slog.String("group", g.Key), slog.Any("counts", g.Counts))
	}
	if len(grown) > 0 && a.opt.OnGrowth != nil {
		a.opt.OnGrowth(grown)
	}
	return grown, nil
}

// Ring returns the samples kept and the groups growing now.
func (a *Agent) Ring() RingDoc { return a.ring.doc() }
