package snapshot

import (
	"fmt"
	"slices"
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
	// ParentGone groups, under key parent, the goroutines whose parent exited.
	ParentGone = "(parent exited)"
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
	// Under key parent: ParentOrigin and ParentStart are the go statement and start
	// function of the goroutine that created the members (the key; nil when that
	// goroutine has none, or is not in the snapshot), and Parents are up to MaxExamples
	// of their ids, smallest first.
	ParentOrigin, ParentStart *Location
	Parents                   []int64
	// LabelValue is the label's value for key label:KEY ("" = goroutines without that label).
	LabelValue string
}

// MaxExamples is how many example ids a Group keeps.
const MaxExamples = 5

// TopUserFrame is where a goroutine is in its own code: the innermost frame outside the
// runtime (runtime., runtime/internal/, internal/runtime/) and the standard library
// (sync.(*Mutex).Lock, internal/poll.runtime_pollWait). When every frame is in them it is
// the innermost frame outside the runtime (a standard-library goroutine), then the
// outermost frame (the goroutine's own function, e.g. runtime.bgsweep); nil when there
// are no frames.
func TopUserFrame(g *Goroutine) *Location {
	std := -1
	for i := range g.Frames {
		switch fn := g.Frames[i].Func; {
		case isRuntimeFunc(fn):
		case isStdFunc(fn):
			if std < 0 {
				std = i
			}
		default:
			return &g.Frames[i]
		}
	}
	if std >= 0 {
		return &g.Frames[std]
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

// stdRoots are the first elements of the standard library's package paths (vendor holds
// its copies of golang.org/x). A module path has a dot in its first element, but a
// module may be named without one ("leaksvc"), so the list is explicit.
var stdRoots = map[string]bool{
	"archive": true, "arena": true, "bufio": true, "bytes": true, "cmp": true, "compress": true,
	"container": true, "context": true, "crypto": true, "database": true, "debug": true,
	"embed": true, "encoding": true, "errors": true, "expvar": true, "flag": true, "fmt": true,
	"go": true, "hash": true, "html": true, "image": true, "index": true, "internal": true,
	"io": true, "iter": true, "log": true, "maps": true, "math": true, "mime": true, "net": true,
	"os": true, "path": true, "plugin": true, "reflect": true, "regexp": true, "runtime": true,
	"slices": true, "sort": true, "strconv": true, "strings": true, "structs": true, "sync": true,
	"syscall": true, "testing": true, "text": true, "time": true, "unicode": true, "unique": true,
	"unsafe": true, "vendor": true, "weak": true,
}

// isStdFunc reports whether fn is in the standard library: "sync.(*Mutex).Lock",
// "net/http.(*conn).serve".
func isStdFunc(fn string) bool {
	root := fn
	if i := strings.IndexAny(root, "/.([ "); i >= 0 {
		root = root[:i]
	}
	return stdRoots[root]
}

// groupID identifies a group while scanning; comparable, so grouping builds no text
// per goroutine.
type groupID struct {
	fn, file, extra string
	line            int
	parent          int8 // key parent: parentFound or parentGone
	none            bool
}

const (
	parentFound = 1 + iota // fn, file, line and extra are the parent's origin key
	parentGone             // the parent is not in the snapshot: it exited
)

func keyOf(g *Goroutine, k Key, byID map[int64]*Goroutine) groupID {
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
		p, ok := byID[g.ParentID]
		switch {
		case g.ParentID == 0:
			return groupID{none: true}
		case !ok:
			return groupID{parent: parentGone}
		}
		id := keyOf(p, Key{}, nil)
		id.none, id.parent = false, parentFound
		return id
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
		switch {
		case id.none:
			return NoParent
		case id.parent == parentGone:
			return ParentGone
		}
		o := id // the parent's origin key; a parent without a go statement has no fn and file
		o.parent, o.none = 0, id.fn == "" && id.file == ""
		return "parent " + keyText(o, Key{})
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
// Count, largest first, then by Key text. Under key parent the parents are looked up in gs.
func GroupBy(gs []Goroutine, k Key) []Group { return groupBy(gs, gs, k) }

// groupBy is GroupBy with the parents (key parent) looked up in all.
func groupBy(gs, all []Goroutine, k Key) []Group {
	var byID map[int64]*Goroutine
	if k.Kind == ByParent {
		byID = make(map[int64]*Goroutine, len(all))
		for i := range all {
			if all[i].ID != 0 {
				byID[all[i].ID] = &all[i]
			}
		}
	}
	index := map[groupID]int{}
	var bs []*building
	last, lastN := groupID{}, -1 // goroutines of one group are often adjacent: skip the map
	for i := range gs {
		g := &gs[i]
		id := keyOf(g, k, byID)
		n, ok := lastN, lastN >= 0 && id == last
		if !ok {
			n, ok = index[id]
		}
		if !ok {
			n = len(bs)
			index[id] = n
			bs = append(bs, &building{
				g:     Group{Key: keyText(id, k), Rep: i, LabelValue: id.extra},
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
		if k.Kind == ByParent && g.ParentID != 0 && !slices.Contains(b.g.Parents, g.ParentID) {
			b.g.Parents = addExample(b.g.Parents, g.ParentID)
		}
	}
	out := make([]Group, len(bs))
	for n, b := range bs {
		grp := b.g
		if k.Kind != ByLabel {
			grp.LabelValue = ""
		}
		rep := &gs[grp.Rep]
		grp.Origin, grp.Start, grp.Location = rep.Origin, rep.Start, TopUserFrame(rep)
		if p := byID[rep.ParentID]; p != nil && rep.ParentID != 0 {
			grp.ParentOrigin, grp.ParentStart = p.Origin, p.Start
		}
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
