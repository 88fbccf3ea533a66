package snapshot

import (
	"strings"
)

// WaitObject is a channel, mutex, WaitGroup or Cond a blocked goroutine waits on, as
// gorigin read it from a live process or a core (a text dump does not carry it).
type WaitObject struct {
	Kind string `json:"kind"` // "chan", "sema" (a sync.Mutex, RWMutex, WaitGroup or bare semaphore) or "cond"
	Addr string `json:"addr"` // its address, hex
	// Type is what it is: "chan *main.Request", "sync.Mutex", "chan (8-byte elements)"
	// when the element type could not be named; the Kind when nothing more is known.
	Type string `json:"type,omitempty"`
	// ReachedFrom is what holds a pointer to it directly: "the global main.queue",
	// "the stack of goroutine 7"; empty when gorigin found none (it may still be
	// reached through the heap: gorigin leaks marks the heap to tell).
	ReachedFrom string `json:"reachedFrom,omitempty"`
}

// String is the object as the table shows it: "chan *main.Request 0xc0001234, reached
// from the global main.queue".
func (w WaitObject) String() string {
	t := w.Type
	if t == "" {
		t = w.Kind
	}
	from := w.ReachedFrom
	if from == "" {
		from = "unknown"
	}
	return t + " " + w.Addr + ", reached from " + from
}

// Group texts of key object for goroutines that wait on no object.
const (
	NoObject      = "(not blocked on a channel, mutex, WaitGroup or Cond)"
	ObjectMissing = "(blocked, but what it waits on was not found)"
)

// objectWaits are the wait reasons of goroutines blocked on an object (leaks.modelled).
var objectWaits = map[string]bool{
	"chan send": true, "chan receive": true, "select": true,
	"semacquire": true, "sync.Mutex.Lock": true, "sync.RWMutex.Lock": true,
	"sync.RWMutex.RLock": true, "sync.WaitGroup.Wait": true, "sync.Cond.Wait": true,
}

// objectKey groups by the objects g waits on; a select on several channels is keyed by
// all of them. Goroutines without one are grouped by why: nothing blocks them on an
// object, it is a nil channel or select {} (keyed by the wait reason), or it was not found.
func objectKey(g *Goroutine) groupID {
	if len(g.WaitsOn) > 0 {
		parts := make([]string, len(g.WaitsOn))
		for i, w := range g.WaitsOn {
			parts[i] = w.String()
		}
		return groupID{extra: strings.Join(parts, "; ")}
	}
	blocked := g.Status == StatusWaiting || g.Status == StatusLeaked
	switch {
	case blocked && objectWaits[g.WaitReason]:
		return groupID{none: true, fn: ObjectMissing}
	case blocked && (strings.HasSuffix(g.WaitReason, "(nil chan)") || g.WaitReason == "select (no cases)"):
		return groupID{none: true, fn: "(no object: " + g.WaitReason + ")"}
	}
	return groupID{none: true, fn: NoObject}
}

func objectKeyText(id groupID) string {
	if id.none {
		return id.fn
	}
	return id.extra
}
