package snapshot

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Key is what GroupBy groups goroutines by.
type Key struct {
	// Kind is what the key groups by; the zero Kind is ByOrigin.
	Kind KeyKind
	// Label is the label key for Kind "label".
	Label string
}

// KeyKinds are the valid Key kinds, in the order help texts list them.
var KeyKinds = []KeyKind{ByOrigin, ByStart, ByLocation, ByWait, ByLabel, ByParent, ByObject}

// ParseKey parses a --by value: "origin", "start", "location", "wait", "label:KEY" or
// "parent" or "object".
func ParseKey(s string) (Key, error) {
	switch k := KeyKind(s); k {
	case ByOrigin, ByStart, ByLocation, ByWait, ByParent, ByObject:
		return Key{Kind: k}, nil
	}
	if k, ok := strings.CutPrefix(s, "label:"); ok {
		if k == "" {
			return Key{}, fmt.Errorf("group key %q names no label: write label:KEY, e.g. label:tenant", s)
		}
		return Key{Kind: ByLabel, Label: k}, nil
	}
	return Key{}, fmt.Errorf("unknown group key %q: valid keys are origin, start, location, wait, label:KEY, parent, object", s)
}

// String is the key as ParseKey reads it; the zero Key is "origin".
func (k Key) String() string {
	switch k.Kind {
	case "":
		return "origin"
	case ByLabel:
		return "label:" + k.Label
	}
	return string(k.Kind)
}

// Group texts for goroutines that lack what a key needs.
const (
	NoOrigin = "(no go statement: runtime-created)"
	NoStack  = "(no stack: use --stacks)"
	NoParent = "(parent unknown)"
)

// StateCount is how many members of a group are in one state.
type StateCount struct {
	Status     Status
	WaitReason string
	Count      int
}

// String is the state as a table shows it: the wait reason of a waiting goroutine,
// otherwise its status.
func (s StateCount) String() string { return StateText(s.Status, s.WaitReason) }

// StateText is a goroutine state as a table shows it: the wait reason of a waiting
// goroutine ("chan receive"), that of one Go 1.26's leak detector marked leaked as the
// runtime prints it ("select (no cases) (leaked)"), otherwise its status ("running").
func StateText(status Status, waitReason string) string {
	if status == StatusWaiting && waitReason != "" {
		return waitReason
	}
	if status == StatusLeaked && waitReason != "" {
		return waitReason + " (leaked)"
	}
	return string(status)
}

// Group is a set of goroutines that share a key, and what they have in common.
type Group struct {
	// Key is the group's key as text, e.g. "main.main /src/main.go:94 → main.blockRecv".
	Key string
	// Origin is the go statement. Under key origin every member shares it; under the
	// other keys it is the representative's (members may differ).
	Origin *Location
	// Start is the start function: shared under keys origin and start, the
	// representative's otherwise.
	Start *Location
	// Location is the top user frame (TopUserFrame): shared under key location, the
	// representative's otherwise. Origin, Start and Location point into the goroutines
	// given to GroupBy.
	Location *Location
	Count    int
	// States are the members' states, most frequent first.
	States []StateCount
	// MaxWaitSeconds is the longest wait among members; 0 when unknown.
	MaxWaitSeconds float64
	// StackBytes is the members' stack sizes summed; 0 when unknown.
	StackBytes int64
	// Examples are up to MaxExamples smallest member ids, ascending; none when ids are unknown.
	Examples []int64
	// Members are indexes into the goroutine slice given to GroupBy, ascending.
	Members []int
	// Rep indexes the representative member in the slice given to GroupBy: the member
	// with the smallest id, or the first member when ids are unknown.
	Rep int
	// Parent is the parent goroutine id for key parent (0 = unknown).
	Parent int64
	// LabelValue is the label's value for key label:KEY ("" = goroutines without that label).
	LabelValue string
}

// MaxExamples is how many example ids a Group keeps.
const MaxExamples = 5

// TopUserFrame is the innermost frame outside the runtime (runtime., runtime/internal/,
// internal/runtime/). When every frame is in the runtime it is the outermost frame (the
// goroutine's own function, e.g. runtime.bgsweep); nil when there are no frames.
func TopUserFrame(g *Goroutine) *Location {
	for i := range g.Frames {
		if !isRuntimeFunc(g.Frames[i].Func) {
			return &g.Frames[i]
		}
	}
	if n := len(g.Frames); n > 0 {
		return &g.Frames[n-1]
	}
	return nil
}

func isRuntimeFunc(fn string) bool {
	return strings.HasPrefix(fn, "runtime.") ||
		strings.HasPrefix(fn, "runtime/internal/") ||
		strings.HasPrefix(fn, "internal/runtime/")
}

// groupID identifies a group while scanning; comparable, so grouping builds no text
// per goroutine.
type groupID struct {
	fn, file, extra string
	line            int
	parent          int64
	none            bool
}

func keyOf(g *Goroutine, k Key) groupID {
	switch k.Kind {
	case ByStart:
		if g.Start == nil {
			return groupID{none: true}
		}
		return groupID{fn: g.Start.Func}
	case ByLocation:
		l := TopUserFrame(g)
		if l == nil {
			return groupID{none: true}
		}
		return groupID{fn: l.Func, file: l.File, line: l.Line}
	case ByWait:
		return groupID{fn: string(g.Status), extra: g.WaitReason}
	case ByLabel:
		v, ok := g.Labels[k.Label]
		return groupID{extra: v, none: !ok}
	case ByParent:
		return groupID{parent: g.ParentID, none: g.ParentID == 0}
	case ByObject:
		return objectKey(g)
	}
	// origin
	id := groupID{none: g.Origin == nil}
	if g.Origin != nil {
		id.fn, id.file, id.line = g.Origin.Func, g.Origin.File, g.Origin.Line
	}
	if g.Start != nil {
		id.extra = g.Start.Func
	}
	return id
}

func keyText(id groupID, k Key) string {
	switch k.Kind {
	case ByStart:
		if id.none {
			return "(start unknown)"
		}
		return id.fn
	case ByLocation:
		if id.none {
			return NoStack
		}
		return (&Location{Func: id.fn, File: id.file, Line: id.line}).String()
	case ByWait:
		if id.extra == "" {
			return id.fn
		}
		return id.fn + ": " + id.extra
	case ByLabel:
		if id.none {
			return "(no label " + k.Label + ")"
		}
		return k.Label + "=" + id.extra
	case ByParent:
		if id.none {
			return NoParent
		}
		return "parent " + strconv.FormatInt(id.parent, 10)
	case ByObject:
		return objectKeyText(id)
	}
	t := NoOrigin
	if !id.none {
		t = (&Location{Func: id.fn, File: id.file, Line: id.line}).String()
	}
	if id.extra != "" {
		t += " → " + id.extra
	}
	return t
}

// building is a group under construction.
type building struct {
	g     Group
	repID int64
}

// GroupBy groups gs by k, a Key from ParseKey (the zero Key groups by origin). Every
// goroutine lands in exactly one group; those lacking what the key needs share a group
// named for what is missing (NoOrigin, NoStack, NoParent, ...). Groups come sorted by
// Count, largest first, then by Key text.
func GroupBy(gs []Goroutine, k Key) []Group {
	index := map[groupID]int{}
	var bs []*building
	last, lastN := groupID{}, -1 // goroutines of one group are often adjacent: skip the map
	for i := range gs {
		g := &gs[i]
		id := keyOf(g, k)
		n, ok := lastN, lastN >= 0 && id == last
		if !ok {
			n, ok = index[id]
		}
		if !ok {
			n = len(bs)
			index[id] = n
			bs = append(bs, &building{
				g:     Group{Key: keyText(id, k), Rep: i, LabelValue: id.extra, Parent: g.ParentID},
				repID: g.ID,
			})
		}
		last, lastN = id, n
		b := bs[n]
		b.g.Count++
		b.g.Members = append(b.g.Members, i)
		b.g.States = countState(b.g.States, g.Status, g.WaitReason)
		b.g.MaxWaitSeconds = max(b.g.MaxWaitSeconds, g.WaitSeconds)
		b.g.StackBytes += g.StackBytes
		if g.ID != 0 {
			if b.repID == 0 || g.ID < b.repID {
				b.repID, b.g.Rep = g.ID, i
			}
			b.g.Examples = addExample(b.g.Examples, g.ID)
		}
	}
	out := make([]Group, len(bs))
	for n, b := range bs {
		grp := b.g
		if k.Kind != ByLabel {
			grp.LabelValue = ""
		}
		if k.Kind != ByParent {
			grp.Parent = 0
		}
		rep := &gs[grp.Rep]
		grp.Origin, grp.Start, grp.Location = rep.Origin, rep.Start, TopUserFrame(rep)
		slices.SortFunc(grp.States, func(a, b StateCount) int {
			if a.Count != b.Count {
				return b.Count - a.Count
			}
			if c := strings.Compare(a.String(), b.String()); c != 0 {
				return c
			}
			return strings.Compare(string(a.Status), string(b.Status))
		})
		out[n] = grp
	}
	slices.SortFunc(out, func(a, b Group) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}

// countState counts one goroutine in states; a group has few distinct states, so a
// linear search beats a map.
func countState(states []StateCount, status Status, reason string) []StateCount {
	for i := range states {
		if states[i].Status == status && states[i].WaitReason == reason {
			states[i].Count++
			return states
		}
	}
	return append(states, StateCount{Status: status, WaitReason: reason, Count: 1})
}

// addExample keeps the MaxExamples smallest ids, ascending.
func addExample(ex []int64, id int64) []int64 {
	if len(ex) == MaxExamples && id >= ex[MaxExamples-1] {
		return ex
	}
	i, _ := slices.BinarySearch(ex, id)
	if len(ex) < MaxExamples {
		ex = append(ex, 0)
	}
	copy(ex[i+1:], ex[i:len(ex)-1])
	ex[i] = id
	return ex
}
