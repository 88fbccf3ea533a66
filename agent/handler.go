package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// DefaultMinInterval is the shortest time between two snapshots a Handler takes when
// Options.MinInterval is zero.
const DefaultMinInterval = 100 * time.Millisecond

// costFactor: a Handler waits at least this many times as long as its last snapshot took
// before it takes another, so back-to-back requests keep the service out of snapshots
// for at least (costFactor-1)/costFactor of the time, whatever MinInterval says.
const costFactor = 4

// Handler serves a snapshot of the process as gorigin.snapshot/v1 JSON, which
// `gorigin dump URL` and `gorigin watch URL` read (they add ?debug=2, which is ignored).
// A path ending in /ring, or the query ?ring, serves the running agent's ring of samples
// instead (404 when no agent runs). Mount it on an existing mux, e.g.
// mux.Handle("/debug/gorigin/", agent.Handler()); it opens no port itself. Protect it as
// you would /debug/pprof: a snapshot shows every goroutine's stack.
//
// A snapshot stops the world (see the package comment for its cost), so the handler takes
// at most one at a time: requests that arrive while one is being taken wait for it and all
// get it, and a request that comes sooner than DefaultMinInterval (or 4 times what the
// last one took, if longer) after the last one waits until then and gets the next. Its
// JSON is encoded once and shared, so N concurrent requests cost one snapshot's memory,
// not N.
func Handler() http.Handler { return packageHandler }

var packageHandler = newHandler(nil, DefaultMinInterval)

// Handler is the package Handler with this agent's ring and Options.MinInterval. Its
// snapshots are apart from the package Handler's and from the agent's own samples.
func (a *Agent) Handler() http.Handler { return a.handler }

// handler serves snapshots and an agent's ring over HTTP.
type handler struct {
	a        *Agent // nil: the current agent's ring
	interval time.Duration

	mu       sync.Mutex
	flight   *flight // the snapshot being taken now, nil when none
	last     []byte  // the last snapshot's JSON
	lastDone time.Time
	lastCost time.Duration
}

// flight is one snapshot being taken; done is closed when body or err is set.
type flight struct {
	done chan struct{}
	body []byte
	err  error
}

func newHandler(a *Agent, interval time.Duration) *handler {
	return &handler{a: a, interval: interval}
}

// snapshotJSON joins the snapshot being taken, or takes one, waiting first until the last
// one is MinInterval (or costFactor times its cost) old: a request always gets a snapshot
// that was at least being taken when it arrived — `gorigin watch` counts goroutines
// between samples, and an older snapshot served again would hide their growth. It gives
// up waiting when done is closed.
func (h *handler) snapshotJSON(done <-chan struct{}) ([]byte, error) {
	for {
		h.mu.Lock()
		f := h.flight
		if f == nil {
			wait := time.Until(h.lastDone.Add(max(h.interval, costFactor*h.lastCost)))
			if h.last != nil && wait > 0 {
				h.mu.Unlock()
				select {
				case <-time.After(wait):
					continue
				case <-done:
					return nil, errGone
				}
			}
			f = &flight{done: make(chan struct{})}
			h.flight = f
			go h.take(f) // not on this request's goroutine: a client that leaves must not end it
		}
		h.mu.Unlock()
		select {
		case <-f.done:
			return f.body, f.err
		case <-done:
			return nil, errGone
		}
	}
}

var errGone = errors.New("gorigin agent: the client went away")

// take takes one snapshot for flight f and makes it the last one.
func (h *handler) take(f *flight) {
	t0 := time.Now()
	s, err := Snapshot()
	var buf bytes.Buffer
	if err == nil {
		err = snapshot.Encode(&buf, s)
	}
	s = nil // the JSON is all that is kept
	h.mu.Lock()
	h.flight = nil
	if err == nil {
		f.body = buf.Bytes()
		h.last, h.lastDone, h.lastCost = f.body, time.Now(), time.Since(t0)
	} else {
		f.err = err
	}
	h.mu.Unlock()
	close(f.done)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "gorigin agent: GET only", http.StatusMethodNotAllowed)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/ring") || r.URL.Query().Has("ring") {
		h.serveRing(w)
		return
	}
	body, err := h.snapshotJSON(r.Context().Done())
	if err == errGone {
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

func (h *handler) serveRing(w http.ResponseWriter) {
	ag := h.a
	if ag == nil {
		currentMu.Lock()
		ag = current
		currentMu.Unlock()
	}
	if ag == nil {
		http.Error(w, "gorigin agent: no agent is running (agent.Start), so there is no ring", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(ag.Ring())
}
