package dump

import "github.com/gorigin-dev/gorigin/snapshot"

// maxInterned bounds the interner: past it new names are still returned, just not shared.
const maxInterned = 1 << 16

// interner shares one string per function, file and wait-reason name, and one Location
// per creation site and start function, so that a dump of 100,000 goroutines with a few
// hundred distinct stacks holds each once.
type interner struct {
	m    map[string]string
	locs map[snapshot.Location]*snapshot.Location
}

// loc returns a shared copy of l.
func (in *interner) loc(l snapshot.Location) *snapshot.Location {
	if in.locs == nil {
		in.locs = map[snapshot.Location]*snapshot.Location{}
	}
	if p, ok := in.locs[l]; ok {
		return p
	}
	p := &l
	if len(in.locs) < maxInterned {
		in.locs[l] = p
	}
	return p
}

func (in *interner) str(b []byte) string {
	if in.m == nil {
		in.m = map[string]string{}
	}
	if s, ok := in.m[string(b)]; ok { // no allocation for the lookup
		return s
	}
	s := string(b)
	if len(in.m) < maxInterned {
		in.m[s] = s
	}
	return s
}
