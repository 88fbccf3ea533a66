package agent

import (
	"slices"
	"sync"
	"time"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// maxGroupsPerSample bounds one sample's groups (the largest are kept): a program has
// finitely many go statements, but a sample must stay small whatever the program.
const maxGroupsPerSample = 1000

// Sample is the per-origin goroutine counts of the process at one moment.
type Sample struct {
	TakenAt time.Time `json:"takenAt"`
	// Total counts every goroutine, system goroutines included.
	Total int `json:"total"`
	// Counts maps a group key (snapshot.GroupBy by origin, e.g. "main.serve
	// /src/main.go:42 → main.handle") to its count; non-system goroutines only.
	Counts map[string]int `json:"counts"`
}

// Growth is a group whose count rose at every one of the last samples.
type Growth struct {
	Key    string             `json:"key"`
	Origin *snapshot.Location `json:"origin,omitempty"`
	// Counts are the group's counts in the samples that show the growth, oldest first.
	Counts []int     `json:"counts"`
	At     time.Time `json:"at"`
}

// ring is a bounded ring of samples and the growth detector over it.
type ring struct {
	mu      sync.Mutex
	samples []Sample // oldest first, at most size
	size    int
	window  int                           // samples a growth must span
	origins map[string]*snapshot.Location // key → origin of the last sample
	flagged map[string]bool               // groups reported as growing and still growing
}

func newRing(size, window int) *ring {
	return &ring{size: size, window: window, origins: map[string]*snapshot.Location{}, flagged: map[string]bool{}}
}

// sampleOf counts s's non-system goroutines by origin.
func sampleOf(s *snapshot.Snapshot) (Sample, map[string]*snapshot.Location) {
	gs, _ := snapshot.WithoutSystem(s.Goroutines)
	groups := snapshot.GroupBy(gs, snapshot.Key{Kind: "origin"})
	if len(groups) > maxGroupsPerSample {
		groups = groups[:maxGroupsPerSample] // sorted largest first
	}
	smp := Sample{TakenAt: s.Source.TakenAt, Total: len(s.Goroutines), Counts: make(map[string]int, len(groups))}
	origins := make(map[string]*snapshot.Location, len(groups))
	for _, g := range groups {
		smp.Counts[g.Key] = g.Count
		if g.Origin != nil {
			o := *g.Origin
			origins[g.Key] = &o
		}
	}
	return smp, origins
}

// add appends a sample and returns the groups that have just started growing: their
// count rose at each of the last window-1 intervals, and they were not already reported.
// The rule is gorigin watch's: a group absent from a sample counts 0.
func (r *ring) add(smp Sample, origins map[string]*snapshot.Location) []Growth {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.samples) == r.size {
		copy(r.samples, r.samples[1:])
		r.samples = r.samples[:r.size-1]
	}
	r.samples = append(r.samples, smp)
	r.origins = origins
	if len(r.samples) < r.window {
		return nil
	}
	last := r.samples[len(r.samples)-r.window:]
	var out []Growth
	for key := range r.flagged {
		if !grew(last, key) {
			delete(r.flagged, key)
		}
	}
	for key := range smp.Counts {
		if r.flagged[key] || !grew(last, key) {
			continue
		}
		r.flagged[key] = true
		counts := make([]int, len(last))
		for i, s := range last {
			counts[i] = s.Counts[key]
		}
		out = append(out, Growth{Key: key, Origin: origins[key], Counts: counts, At: smp.TakenAt})
	}
	slices.SortFunc(out, func(a, b Growth) int {
		return (b.Counts[len(b.Counts)-1] - b.Counts[0]) - (a.Counts[len(a.Counts)-1] - a.Counts[0])
	})
	return out
}

// grew reports whether key's count rose at every interval of samples.
func grew(samples []Sample, key string) bool {
	counts := make([]int, len(samples))
	for i, s := range samples {
		counts[i] = s.Counts[key]
	}
	return snapshot.GrewEveryInterval(counts)
}

// RingDoc is the ring as the handler serves it.
type RingDoc struct {
	Schema  string   `json:"schema"`
	Window  int      `json:"window"`
	Samples []Sample `json:"samples"`
	// Growing are the groups that grew at every interval of the last Window samples.
	Growing []string `json:"growing"`
}

// RingSchema names the ring's JSON document.
const RingSchema = "gorigin.agent.ring/v1"

func (r *ring) doc() RingDoc {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := RingDoc{Schema: RingSchema, Window: r.window, Samples: slices.Clone(r.samples), Growing: []string{}}
	for k := range r.flagged {
		d.Growing = append(d.Growing, k)
	}
	slices.Sort(d.Growing)
	return d
}
