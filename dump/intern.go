package dump

import (
	"slices"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// maxInterned bounds the interner: past it new names are still returned, just not shared.
const maxInterned = 1 << 16

// recentStacks is how many distinct recent stacks the interner compares a new one with:
// a dump lists goroutines in creation order, so the siblings of one go statement, which
// mostly share a stack, come close together.
const recentStacks = 8

// interner shares one string per function, file and wait-reason name, one Location per
// creation site and start function, one label map per distinct label text, and one
// Frames slice per recent stack, so that a dump of 100,000 goroutines with a few hundred
// distinct stacks holds each once. What it shares must be treated as read-only.
type interner struct {
	m      map[string]string
	locs   map[snapshot.Location]*snapshot.Location
	labels map[string]labelSet
	stacks [recentStacks][]snapshot.Location
	next   int // the stacks slot the next new stack takes
	last   []snapshot.Location
	// recentLocs are the last locations loc returned (an origin and a start function
	// mostly repeat those of the goroutine before): compared before hashing.
	recentLocs [4]*snapshot.Location
	nextLoc    int
	// recentStrs are the last strings str returned, compared before hashing.
	recentStrs [8]string
	nextStr    int
	// kept is the memory, in bytes, of what the interner handed out unshared: new
	// strings, locations, frames and label entries (the dump's budget counts it).
	kept int64
}

// labelSet is a label text's parsed labels and whether they were read in full.
type labelSet struct {
	m   map[string]string
	bad bool
}

// loc returns a shared copy of l.
func (in *interner) loc(l snapshot.Location) *snapshot.Location {
	for _, p := range in.recentLocs {
		if p != nil && *p == l {
			return p
		}
	}
	if in.locs == nil {
		in.locs = map[snapshot.Location]*snapshot.Location{}
	}
	p, ok := in.locs[l]
	if !ok {
		p = new(snapshot.Location) // not &l: that would move every l to the heap
		*p = l
		in.kept += snapshot.LocationSize
		if len(in.locs) < maxInterned {
			in.locs[l] = p
		}
	}
	in.recentLocs[in.nextLoc] = p
	in.nextLoc = (in.nextLoc + 1) % len(in.recentLocs)
	return p
}

// lastStack is the stack the last goroutine shared or added (nil at first): its names
// are compared with the next goroutine's before they are looked up.
func (in *interner) lastStack() []snapshot.Location { return in.last }

func (in *interner) str(b []byte) string {
	// A goroutine's state, its go statement's function and file mostly repeat the
	// goroutine's before: compared (no allocation, most fail on the length) before hashing.
	for _, s := range in.recentStrs {
		if len(s) == len(b) && s == string(b) {
			return s
		}
	}
	s := in.lookup(b)
	in.recentStrs[in.nextStr] = s
	in.nextStr = (in.nextStr + 1) % len(in.recentStrs)
	return s
}

func (in *interner) lookup(b []byte) string {
	if in.m == nil {
		in.m = map[string]string{}
	}
	if s, ok := in.m[string(b)]; ok { // no allocation for the lookup
		return s
	}
	s := string(b)
	in.kept += int64(len(s))
	if len(in.m) < maxInterned {
		in.m[s] = s
	}
	return s
}

// labels parses a header's label text (parseLabels), once per distinct text.
func (in *interner) parseLabels(text []byte) (map[string]string, bool) {
	if ls, ok := in.labels[string(text)]; ok {
		return ls.m, ls.bad
	}
	m, bad := parseLabels(string(text), in)
	if in.labels == nil {
		in.labels = map[string]labelSet{}
	}
	if len(in.labels) < maxInterned {
		in.labels[string(text)] = labelSet{m, bad}
	}
	return m, bad
}

// frames returns a copy of frames, shared with an earlier goroutine's when one of the
// recent stacks is the same.
func (in *interner) frames(frames []snapshot.Location) []snapshot.Location {
	for i := range in.stacks {
		if s := in.stacks[(in.next+recentStacks-1-i)%recentStacks]; s != nil && slices.Equal(s, frames) {
			in.last = s
			return s
		}
	}
	s := slices.Clone(frames)
	in.kept += int64(len(s)) * snapshot.LocationSize
	in.stacks[in.next] = s
	in.next = (in.next + 1) % recentStacks
	in.last = s
	return s
}
