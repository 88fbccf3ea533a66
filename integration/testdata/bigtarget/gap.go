package main

import (
	"runtime"
	"sync"
	"time"
)

// gapWatcher measures how long the process was kept from running: it wakes every
// watchPeriod on a thread of its own and records the largest time between two wake-ups.
type gapWatcher struct {
	mu   sync.Mutex
	last time.Time     // the latest wake-up (monotonic clock)
	max  time.Duration // the largest gap since the last reset
	// after is the largest gap since the largest one ended: with a freeze in the window,
	// how long the target was kept from running once it was let go (a tool hogging the
	// CPUs right after its thaw shows here).
	after time.Duration
}

func (w *gapWatcher) run() {
	runtime.LockOSThread()
	w.mu.Lock()
	w.last = time.Now()
	w.mu.Unlock()
	for {
		time.Sleep(watchPeriod)
		now := time.Now()
		w.mu.Lock()
		if gap := now.Sub(w.last); gap > w.max {
			w.max, w.after = gap, 0
		} else if gap > w.after {
			w.after = gap
		}
		w.last = now
		w.mu.Unlock()
	}
}

func (w *gapWatcher) reset() {
	w.mu.Lock()
	w.max, w.after = 0, 0
	w.last = time.Now()
	w.mu.Unlock()
}

// largest is the largest gap since the last reset, counting the one still open: a freeze
// that just ended is reported even if the watcher has not woken up since.
func (w *gapWatcher) largest() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if open := time.Since(w.last); open > w.max {
		return open
	}
	return w.max
}

// afterLargest is the largest gap since the largest one ended (see gapWatcher.after).
func (w *gapWatcher) afterLargest() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.after
}
