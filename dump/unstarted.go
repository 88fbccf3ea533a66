package dump

import "github.com/gorigin-dev/gorigin/snapshot"

// joinUnstarted gives a goroutine that has not run yet the start function of its
// siblings. A go statement with arguments runs through a compiler-made wrapper
// (F.gowrapN since Go 1.21; F.funcN, a closure at the go statement, in Go 1.20): until
// the new goroutine first runs, its traceback shows only that wrapper, where a live read
// (which sees through the wrapper's code) and its siblings that did run show the function
// it wraps. Such a goroutine takes the start its siblings of the same go statement show,
// when they all show one; without siblings that ran, the wrapper stays. Frames are left
// as the dump shows them (the goroutine is still at its go statement).
func joinUnstarted(gs []snapshot.Goroutine) {
	type site struct {
		fn, file string
		line     int
	}
	unstarted := func(g *snapshot.Goroutine) bool {
		if g.Origin == nil || g.Start == nil || len(g.Frames) != 1 {
			return false
		}
		if isGoWrapper(g.Start.Func) {
			return true
		}
		f := g.Frames[0]
		return f.File == g.Origin.File && f.Line == g.Origin.Line && isClosureOf(g.Start.Func, g.Origin.Func)
	}
	var (
		starts    map[site]*snapshot.Location
		ambiguous map[site]bool
		waiting   []int
	)
	for i := range gs {
		g := &gs[i]
		if unstarted(g) {
			waiting = append(waiting, i)
		}
	}
	if len(waiting) == 0 {
		return
	}
	starts, ambiguous = map[site]*snapshot.Location{}, map[site]bool{}
	next := 0 // waiting[next] is the next unstarted goroutine: unstarted is not asked twice
	for i := range gs {
		g := &gs[i]
		if next < len(waiting) && waiting[next] == i {
			next++
			continue
		}
		if g.Origin == nil || g.Start == nil {
			continue
		}
		k := site{g.Origin.Func, g.Origin.File, g.Origin.Line}
		if s, ok := starts[k]; ok && s != g.Start && *s != *g.Start {
			ambiguous[k] = true
		}
		starts[k] = g.Start
	}
	for _, i := range waiting {
		g := &gs[i]
		k := site{g.Origin.Func, g.Origin.File, g.Origin.Line}
		if s, ok := starts[k]; ok && !ambiguous[k] {
			g.Start = s
		}
	}
}
