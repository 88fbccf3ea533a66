package dbg

import (
	"sync/atomic"
	"time"
)

// Watchdog is the --max-freeze clock a live backend keeps: it lets a freeze go once it has
// lasted Max, whatever gorigin is doing meanwhile. The backend decides how to let go (a
// detach, ending its debugger); the Watchdog numbers the freezes so that a late firing
// cannot end a newer one, decides between the firing and a thaw which of them ends a
// freeze, and answers Expired.
//
// Start and Stop are called with the backend's own lock held; Take and Expired may be
// called from anywhere.
type Watchdog struct {
	Max time.Duration // set before the first Start

	timer   *time.Timer
	gen     atomic.Uint64 // counts freezes
	hold    atomic.Uint64 // the number of the freeze on, 0 once a thaw or the firing took it
	since   atomic.Int64  // UnixNano when the freeze on began, 0 when none is
	expired atomic.Bool
}

// Start arms the watchdog for a freeze that began at start: unless Stop comes first, fire
// runs on a goroutine of its own once Max has passed since start, with the freeze's
// number, which it passes to Take.
func (w *Watchdog) Start(start time.Time, fire func(gen uint64)) {
	gen := w.gen.Add(1)
	w.hold.Store(gen)
	w.expired.Store(false)
	w.since.Store(start.UnixNano())
	w.timer = time.AfterFunc(w.Max-time.Since(start), func() { fire(gen) })
}

// Take claims the freeze numbered gen for the firing: true if it is still on and no thaw
// took it, and then the freeze counts as expired.
func (w *Watchdog) Take(gen uint64) bool {
	if !w.hold.CompareAndSwap(gen, 0) {
		return false
	}
	w.expired.Store(true)
	return true
}

// Stop disarms the watchdog as the freeze on ends, and claims that freeze for the thaw:
// false if the firing took it already (the backend is letting it go).
func (w *Watchdog) Stop() bool {
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	w.since.Store(0)
	return w.hold.CompareAndSwap(w.gen.Load(), 0)
}

// Expire marks the freeze on as having outlasted Max, when the backend finds so itself
// (a stop that alone took longer than Max).
func (w *Watchdog) Expire() { w.expired.Store(true) }

// Expired reports whether the last freeze outlasted Max: the watchdog let it go, or it is
// still on past Max (the firing waits for a read to end). It is the backend's Expired
// (see dbg.Expirer).
func (w *Watchdog) Expired() bool {
	if w.expired.Load() {
		return true
	}
	since := w.since.Load()
	return since != 0 && time.Since(time.Unix(0, since)) > w.Max
}
