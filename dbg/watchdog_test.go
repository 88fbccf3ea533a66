package dbg

import (
	"testing"
	"time"
)

// TestWatchdog: a freeze is ended once, by the firing or by the thaw, whichever comes
// first; a late firing cannot end a newer freeze; Expired says whether the freeze outlasted
// Max. No wall-clock bound: the firing is awaited, and the limits are 0 or an hour.
func TestWatchdog(t *testing.T) {
	fired := make(chan uint64, 1)
	fire := func(gen uint64) { fired <- gen }

	t.Run("fires", func(t *testing.T) {
		w := Watchdog{Max: 0}
		w.Start(time.Now(), fire)
		gen := <-fired
		if !w.Take(gen) {
			t.Fatal("Take of the freeze on = false")
		}
		if !w.Expired() {
			t.Error("Expired = false after the firing took the freeze")
		}
		if w.Take(gen) || w.Stop() {
			t.Error("the freeze was taken twice")
		}
		if !w.Expired() {
			t.Error("Expired = false after the thaw that followed the firing")
		}
	})

	t.Run("thawed in time", func(t *testing.T) {
		w := Watchdog{Max: time.Hour}
		w.Start(time.Now(), fire)
		if w.Expired() {
			t.Error("Expired = true within Max")
		}
		if !w.Stop() {
			t.Fatal("Stop of the freeze on = false")
		}
		if w.Expired() {
			t.Error("Expired = true after a thaw within Max")
		}
	})

	t.Run("late firing", func(t *testing.T) {
		w := Watchdog{Max: time.Hour}
		w.Start(time.Now(), fire)
		old := w.gen.Load()
		w.Stop()
		w.Start(time.Now(), fire)
		if w.Take(old) {
			t.Error("the firing of an ended freeze took the next one")
		}
		if w.Expired() {
			t.Error("Expired = true for a new freeze")
		}
		if !w.Stop() {
			t.Error("Stop of the new freeze = false")
		}
	})

	t.Run("still on past Max", func(t *testing.T) {
		w := Watchdog{Max: time.Hour}
		w.Start(time.Now().Add(-2*time.Hour), func(uint64) {}) // a firing that cannot get the lock yet
		if !w.Expired() {
			t.Error("Expired = false for a freeze on for longer than Max")
		}
		w.Stop()
	})

	t.Run("expired by the backend", func(t *testing.T) {
		w := Watchdog{Max: time.Hour}
		w.Start(time.Now(), fire)
		w.Expire()
		if !w.Stop() || !w.Expired() {
			t.Error("a freeze the backend found too long: want it thawed by Stop and Expired")
		}
	})
}
