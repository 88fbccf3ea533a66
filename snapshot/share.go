package snapshot

import (
	"slices"
	"strconv"
)

// maxShared bounds each table of a sharer: past it, new values are kept unshared.
const maxShared = 1 << 16

// sharer makes the goroutines decoded from one JSON document share their names,
// locations and stacks, as the goroutines of a live read or a text dump do: a document of
// 400,000 goroutines with a few hundred distinct stacks then holds each once, not 400,000
// times. kept counts, in bytes, what it could not share (the budget of Decode).
type sharer struct {
	strs   map[string]string
	locs   map[Location]*Location
	stacks map[string][]Location
	key    []byte // the stack being looked up, encoded
	kept   int64
}

func (s *sharer) str(v string) string {
	if v == "" {
		return ""
	}
	if p, ok := s.strs[v]; ok {
		return p
	}
	if s.strs == nil {
		s.strs = map[string]string{}
	}
	if len(s.strs) < maxShared {
		s.strs[v] = v
	}
	s.kept += int64(len(v))
	return v
}

func (s *sharer) location(l Location) Location {
	l.Func, l.File, l.PC = s.str(l.Func), s.str(l.File), s.str(l.PC)
	return l
}

func (s *sharer) loc(l *Location) *Location {
	if l == nil {
		return nil
	}
	v := s.location(*l)
	if p, ok := s.locs[v]; ok {
		return p
	}
	if s.locs == nil {
		s.locs = map[Location]*Location{}
	}
	p := &v
	if len(s.locs) < maxShared {
		s.locs[v] = p
	}
	s.kept += LocationSize
	return p
}

func (s *sharer) frames(fs []Location) []Location {
	if len(fs) == 0 {
		return fs
	}
	key := s.key[:0]
	for i := range fs {
		fs[i] = s.location(fs[i])
		f := &fs[i]
		key = append(append(key, f.Func...), 0)
		key = append(append(key, f.File...), 0)
		key = append(strconv.AppendInt(key, int64(f.Line), 10), 0)
		key = append(append(key, f.PC...), 0)
		if f.Inlined {
			key = append(key, 1)
		}
	}
	s.key = key
	if p, ok := s.stacks[string(key)]; ok && slices.Equal(p, fs) {
		return p
	}
	if s.stacks == nil {
		s.stacks = map[string][]Location{}
	}
	fs = slices.Clip(fs)
	if len(s.stacks) < maxShared {
		s.stacks[string(key)] = fs
	}
	s.kept += int64(len(fs)) * LocationSize
	return fs
}

// share replaces g's names, locations and stacks by shared copies and adds what stays
// g's own to s.kept.
func (s *sharer) share(g *Goroutine) {
	g.Status, g.WaitReason = Status(s.str(string(g.Status))), s.str(g.WaitReason)
	g.Origin, g.Start = s.loc(g.Origin), s.loc(g.Start)
	g.Frames = s.frames(g.Frames)
	if len(g.Labels) > 0 {
		m := make(map[string]string, len(g.Labels))
		for k, v := range g.Labels {
			m[s.str(k)] = s.str(v)
		}
		g.Labels = m
		s.kept += 48 * int64(len(m)) // an entry's two string headers and overhead
	}
	s.kept += GoroutineSize
}
