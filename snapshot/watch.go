package snapshot

import "time"

// WatchGroup is one group across the samples of a watch.
type WatchGroup struct {
	Key    string    `json:"key"`
	Origin *Location `json:"origin,omitempty"`
	Start  *Location `json:"start,omitempty"`
	// Counts are the group's sizes, one per sample.
	Counts []int `json:"counts"`
	// GrewEveryInterval is true when each count is larger than the one before.
	GrewEveryInterval bool `json:"grewEveryInterval"`
}

// Watch is the JSON document of gorigin watch: repeated snapshots of one source, group by
// group.
type Watch struct {
	Source  string       `json:"source"`
	By      string       `json:"by"`
	TakenAt []time.Time  `json:"takenAt"`
	Totals  []int        `json:"totals"`
	Groups  []WatchGroup `json:"groups"`
	// Growing lists the keys of the groups that grew in every interval; non-empty means
	// exit status 3.
	Growing []string `json:"growing"`
}

// MarkGrowing marks the groups whose count rose in every interval so far
// (GrewEveryInterval) and returns their keys.
func (w *Watch) MarkGrowing() []string {
	out := []string{}
	for i := range w.Groups {
		g := &w.Groups[i]
		g.GrewEveryInterval = GrewEveryInterval(g.Counts)
		if g.GrewEveryInterval {
			out = append(out, g.Key)
		}
	}
	return out
}

// Sort puts the groups that grew every time first, then by total growth, then by size.
func (w *Watch) Sort() {
	gs := w.Groups
	growth := func(g WatchGroup) int { return g.Counts[len(g.Counts)-1] - g.Counts[0] }
	less := func(a, b WatchGroup) bool {
		if a.GrewEveryInterval != b.GrewEveryInterval {
			return a.GrewEveryInterval
		}
		if growth(a) != growth(b) {
			return growth(a) > growth(b)
		}
		if a.Last() != b.Last() {
			return a.Last() > b.Last()
		}
		return a.Key < b.Key
	}
	for i := 1; i < len(gs); i++ { // insertion sort: stable, few groups
		for j := i; j > 0 && less(gs[j], gs[j-1]); j-- {
			gs[j], gs[j-1] = gs[j-1], gs[j]
		}
	}
}

// Last is the group's count in the last sample.
func (g WatchGroup) Last() int { return g.Counts[len(g.Counts)-1] }
