// Package series turns a goroutine snapshot into the series gorigin exports to Prometheus:
// non-system goroutines counted by (origin, start, state), the oldest wait of each group,
// with the cardinality bounded and every label value made safe. It has no dependency on
// the Prometheus client, so that the agent's plain /metrics handler can use it in a
// service that does not link that client; package exporter and agent/promcollector turn
// its groups into client_golang metrics.
package series

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gorigin-dev/gorigin/snapshot"
)

const (
	// DefaultMaxOrigins is how many origins (go statements) per process keep their own
	// series when the caller does not say.
	DefaultMaxOrigins = 50
	// MaxStartsPerOrigin is how many start functions of one origin keep their own series
	// (a go statement that calls a function value can start many); the rest are summed
	// under start="other".
	MaxStartsPerOrigin = 5
	// MaxLabelLen bounds a label value in bytes: a longer one (a target's path, function
	// name or wait reason is the target's to choose) is cut at a rune boundary and ends in
	// "…".
	MaxLabelLen = 256

	// Other is the origin (and start) of the goroutines summed beyond the bounds.
	Other = "other"
	// NoOrigin is the origin of goroutines no go statement created: the main goroutine.
	NoOrigin = "none"
)

// Group is one series of gorigin_goroutines: goroutines that share a go statement
// (origin, "path:line"), a start function and a state (the wait reason of a waiting
// goroutine, else its status).
type Group struct {
	Origin, Start, State string
	Count                int
	// OldestWait is the longest wait among the group's members, in seconds; 0 when no
	// member's wait is known (the runtime records it only across a garbage collection).
	OldestWait float64
}

// Target is what one snapshot says about its process.
type Target struct {
	Pid    int
	Exe    string // bounded with Label
	Groups []Group
	// Total is the number of non-system goroutines (runtime.NumGoroutine's count), the
	// sum of the groups' counts.
	Total int
	// FreezeSeconds is how long the target was stopped for the snapshot (0 with
	// --freeze never).
	FreezeSeconds float64
}

// FromSnapshot is the target's series in snap: at most maxOrigins origins (the ones with
// the most goroutines; the rest summed under origin="other"), at most MaxStartsPerOrigin
// start functions each. System goroutines are left out, as runtime.NumGoroutine and the
// goroutine profile leave them out. maxOrigins <= 0 means DefaultMaxOrigins.
func FromSnapshot(snap *snapshot.Snapshot, maxOrigins int) Target {
	if maxOrigins <= 0 {
		maxOrigins = DefaultMaxOrigins
	}
	t := Target{Pid: snap.Source.Pid, Exe: Label(snap.Source.Exe), FreezeSeconds: float64(snap.Source.FreezeMicros) / 1e6}

	type key struct{ origin, start, state string }
	groups := map[key]*Group{}
	perOrigin := map[string]int{}
	startsOf := map[string]map[string]int{}
	for i := range snap.Goroutines {
		g := &snap.Goroutines[i]
		if g.System {
			continue
		}
		t.Total++
		k := key{origin: originLabel(g.Origin), start: funcLabel(g.Start), state: Label(snapshot.StateText(g.Status, g.WaitReason))}
		grp := groups[k]
		if grp == nil {
			grp = &Group{Origin: k.origin, Start: k.start, State: k.state}
			groups[k] = grp
		}
		grp.Count++
		grp.OldestWait = max(grp.OldestWait, g.WaitSeconds)
		perOrigin[k.origin]++
		if startsOf[k.origin] == nil {
			startsOf[k.origin] = map[string]int{}
		}
		startsOf[k.origin][k.start]++
	}

	keptOrigins := top(perOrigin, maxOrigins)
	merged := map[key]*Group{}
	for k, grp := range groups {
		nk := k
		if !keptOrigins[k.origin] {
			nk.origin, nk.start = Other, Other
		} else if !top(startsOf[k.origin], MaxStartsPerOrigin)[k.start] {
			nk.start = Other
		}
		m := merged[nk]
		if m == nil {
			m = &Group{Origin: nk.origin, Start: nk.start, State: nk.state}
			merged[nk] = m
		}
		m.Count += grp.Count
		m.OldestWait = max(m.OldestWait, grp.OldestWait)
	}
	for _, g := range merged {
		t.Groups = append(t.Groups, *g)
	}
	slices.SortFunc(t.Groups, func(a, b Group) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Origin, b.Origin),
			strings.Compare(a.Start, b.Start), strings.Compare(a.State, b.State))
	})
	return t
}

// top is the n keys of counts with the largest counts (ties by name, so the choice is
// the same on every snapshot of the same counts). A key named Other never counts as
// kept: it is where the rest go.
func top(counts map[string]int, n int) map[string]bool {
	if len(counts) <= n {
		kept := make(map[string]bool, len(counts))
		for k := range counts {
			kept[k] = true
		}
		return kept
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(counts[b], counts[a]), strings.Compare(a, b))
	})
	kept := make(map[string]bool, n)
	for _, k := range keys[:n] {
		kept[k] = true
	}
	return kept
}

// originLabel is a go statement as "path:line".
func originLabel(l *snapshot.Location) string {
	if l == nil || l.File == "" {
		if l != nil && l.Func != "" {
			return Label(l.Func) // a creator whose source the binary does not say
		}
		return NoOrigin
	}
	return Label(fmt.Sprintf("%s:%d", l.File, l.Line))
}

// funcLabel is a start function's name, or "" when unknown.
func funcLabel(l *snapshot.Location) string {
	if l == nil {
		return ""
	}
	return Label(l.Func)
}

// Label makes s a safe label value: valid UTF-8 (each run of invalid bytes becomes U+FFFD) of at
// most MaxLabelLen bytes, cut at a rune boundary and ended in "…" when longer. Quoting
// and escaping are the exposition format's (the Prometheus client's, or agent's
// WriteText).
func Label(s string) string {
	if utf8.ValidString(s) && len(s) <= MaxLabelLen {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= MaxLabelLen {
		return s
	}
	const ellipsis = "…"
	cut := MaxLabelLen - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
