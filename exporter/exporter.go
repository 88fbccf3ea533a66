// Package exporter is gorigin's host exporter for Prometheus (`gorigin exporter`): every
// interval it snapshots each selected Go process, one at a time, and keeps the latest
// series of each (package series); a scrape reads only those, so no client can make it
// attach to, freeze or read anything. Processes that exit are dropped; with All, Go
// processes that appear are followed.
//
// The metric families are package series' (gorigin_goroutines{pid,exe,origin,start,state}
// and the per-process gorigin_snapshot_* figures), plus gorigin_exporter_targets. The
// exporter is also a prometheus.Collector for the same families from another source
// (agent/promcollector uses Collect).
package exporter

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gorigin-dev/gorigin/exporter/series"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// SnapshotFunc snapshots the live process pid. The command passes gorigin's attach with
// the freeze mode it was given; tests pass their own.
type SnapshotFunc func(ctx context.Context, pid int) (*snapshot.Snapshot, error)

// Options configure an Exporter.
type Options struct {
	// Pids are the processes to follow; each is dropped when it exits (a later process
	// with the same pid is another process and is not followed).
	Pids []int
	// All follows every Go process on the host that this process may read, found at the
	// start of each round; exclusive with Pids.
	All bool
	// Interval is the time from the start of one round of snapshots to the next; a round
	// that takes longer is followed at once by the next.
	Interval time.Duration
	// MaxOrigins bounds the origins per process (series.FromSnapshot).
	MaxOrigins int
	// Snapshot takes one snapshot.
	Snapshot SnapshotFunc
	// Timeout bounds one snapshot (default: the interval, at least 10 s).
	Timeout time.Duration
	// Logger hears of targets found and lost and of failed snapshots; default slog.Default().
	Logger *slog.Logger
}

// Exporter follows processes and keeps their latest series. Its methods are safe for
// concurrent use.
type Exporter struct {
	opt Options
	log *slog.Logger

	mu      sync.Mutex
	targets map[int]*target // by pid
	notGo   map[procID]bool // --all: processes found not to be Go (or not readable)
}

// procID tells a process from a later one with the same pid.
type procID struct {
	pid   int
	start uint64 // start time in clock ticks since boot (/proc/PID/stat field 22)
}

type target struct {
	id    procID
	state series.State
}

// New checks o and makes an Exporter; Run starts it.
func New(o Options) (*Exporter, error) {
	switch {
	case o.All && len(o.Pids) > 0:
		return nil, fmt.Errorf("give pids or --all, not both")
	case !o.All && len(o.Pids) == 0:
		return nil, fmt.Errorf("no process to export: give pids or --all")
	case o.Interval <= 0:
		return nil, fmt.Errorf("the interval must be positive")
	case o.Snapshot == nil:
		return nil, fmt.Errorf("exporter: no snapshot function")
	}
	if o.Timeout <= 0 {
		o.Timeout = max(o.Interval, 10*time.Second)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	e := &Exporter{opt: o, log: o.Logger, targets: map[int]*target{}, notGo: map[procID]bool{}}
	for _, pid := range o.Pids {
		id, err := identify(pid)
		if err != nil {
			return nil, fmt.Errorf("pid %d: %w (is it running? gorigin exporter follows running processes)", pid, err)
		}
		e.targets[pid] = newTarget(id)
	}
	return e, nil
}

// Run takes rounds of snapshots until ctx is done.
func (e *Exporter) Run(ctx context.Context) {
	next := time.Now()
	for {
		e.Round(ctx)
		next = next.Add(e.opt.Interval)
		if now := time.Now(); next.Before(now) {
			next = now // a slow round: the next starts at once, never two at a time
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
	}
}

// Round snapshots every target once, one after the other, after dropping the ones that
// exited and (All) adding the Go processes that appeared.
func (e *Exporter) Round(ctx context.Context) {
	e.refresh()
	e.mu.Lock()
	pids := make([]int, 0, len(e.targets))
	for pid := range e.targets {
		pids = append(pids, pid)
	}
	e.mu.Unlock()
	slices.Sort(pids)
	for _, pid := range pids {
		if ctx.Err() != nil {
			return
		}
		e.snapshot(ctx, pid)
	}
}

// snapshot takes one snapshot of pid and stores its series.
func (e *Exporter) snapshot(ctx context.Context, pid int) {
	ctx, cancel := context.WithTimeout(ctx, e.opt.Timeout)
	defer cancel()
	t0 := time.Now()
	snap, err := e.opt.Snapshot(ctx, pid)
	took := time.Since(t0)

	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.targets[pid]
	if t == nil {
		return
	}
	if id, idErr := identify(pid); idErr != nil || id != t.id {
		delete(e.targets, pid) // it exited while we read it
		e.log.Info("gorigin exporter: process exited", "pid", pid)
		return
	}
	t.state.Duration = took
	if err != nil {
		t.state.Errors++
		t.state.Last = nil
		e.log.Warn("gorigin exporter: snapshot failed", "pid", pid, "err", err)
		return
	}
	tg := series.FromSnapshot(snap, e.opt.MaxOrigins)
	t.state.Last, t.state.TakenAt = &tg, snap.Source.TakenAt
	if t.state.TakenAt.IsZero() {
		t.state.TakenAt = t0
	}
}

// refresh drops the targets that exited or became another process and, with All, adds
// the Go processes that appeared.
func (e *Exporter) refresh() {
	e.mu.Lock()
	for pid, t := range e.targets {
		if id, err := identify(pid); err != nil || id != t.id {
			delete(e.targets, pid)
			e.log.Info("gorigin exporter: process exited", "pid", pid)
		}
	}
	e.mu.Unlock()
	if !e.opt.All {
		return
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		e.log.Warn("gorigin exporter: list processes", "err", err)
		return
	}
	self := os.Getpid()
	seen := map[procID]bool{}
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == self {
			continue
		}
		id, err := identify(pid)
		if err != nil {
			continue // gone already
		}
		seen[id] = true
		e.mu.Lock()
		known := e.targets[pid] != nil || e.notGo[id]
		e.mu.Unlock()
		if known {
			continue
		}
		// Kernel threads have no executable; a process we may not read fails here too.
		_, err = buildinfo.ReadFile("/proc/" + ent.Name() + "/exe")
		e.mu.Lock()
		if err != nil {
			e.notGo[id] = true
		} else {
			e.targets[pid] = newTarget(id)
			e.log.Info("gorigin exporter: following Go process", "pid", pid)
		}
		e.mu.Unlock()
	}
	e.mu.Lock()
	for id := range e.notGo {
		if !seen[id] {
			delete(e.notGo, id) // bounded by the processes alive now
		}
	}
	e.mu.Unlock()
}

// newTarget is a process to follow, its exe label read once: the series of one process
// keep one exe, whatever later snapshots say (an exec makes it another process anyway).
func newTarget(id procID) *target {
	exe, _ := os.Readlink("/proc/" + strconv.Itoa(id.pid) + "/exe")
	return &target{id: id, state: series.State{Pid: id.pid, Exe: series.Label(exe)}}
}

// identify reads pid's start time, which tells it from a later process with its pid.
func identify(pid int) (procID, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procID{}, err
	}
	// The command name (field 2) is in parentheses and may hold anything: fields
	// after it are counted from the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procID{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" { // a zombie has exited
		return procID{}, fmt.Errorf("/proc/%d: not a running process", pid)
	}
	start, err := strconv.ParseUint(f[19], 10, 64) // field 22 overall
	if err != nil {
		return procID{}, fmt.Errorf("/proc/%d/stat: start time: %w", pid, err)
	}
	return procID{pid, start}, nil
}

// States are copies of the states of the targets snapshotted at least once, by pid.
func (e *Exporter) States() []series.State {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]series.State, 0, len(e.targets))
	for _, t := range e.targets {
		if t.state.Duration > 0 { // not before its first snapshot
			out = append(out, t.state)
		}
	}
	slices.SortFunc(out, func(a, b series.State) int { return a.Pid - b.Pid })
	return out
}

var targetsDesc = prometheus.NewDesc("gorigin_exporter_targets", "Processes the exporter follows.", nil, nil)

// Describe sends the descriptors of every family.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range descs {
		ch <- d
	}
	ch <- targetsDesc
}

// Collect sends the latest samples: it reads, never snapshots.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	states := e.States()
	for i := range states {
		Collect(ch, &states[i])
	}
	ch <- prometheus.MustNewConstMetric(targetsDesc, prometheus.GaugeValue, float64(len(states)))
}

// descs are the families' descriptors, by name.
var descs = func() map[string]*prometheus.Desc {
	m := map[string]*prometheus.Desc{}
	for _, f := range series.Families {
		m[f.Name] = prometheus.NewDesc(f.Name, f.Help, f.Labels(), nil)
	}
	return m
}()

// Collect sends the samples of one process's state to ch as client_golang metrics.
func Collect(ch chan<- prometheus.Metric, s *series.State) {
	s.Samples(func(m series.Metric, labels []string, v float64) {
		typ := prometheus.GaugeValue
		if m.Counter {
			typ = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(descs[m.Name], typ, v, labels...)
	})
}

// Describe sends the descriptors of the families Collect sends.
func Describe(ch chan<- *prometheus.Desc) {
	for _, f := range series.Families {
		ch <- descs[f.Name]
	}
}
