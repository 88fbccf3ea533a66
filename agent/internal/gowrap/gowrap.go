// Package gowrap gives goroutines that have not run yet the start function of their
// siblings. A go statement with arguments runs through a compiler-made wrapper
// (F.gowrapN, Go 1.21+); until the new goroutine first runs, its traceback shows only
// that wrapper, so it would group apart from its siblings of the same go statement.
package gowrap

import (
	"strings"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// Normalize sets Start of each goroutine that starts in a go-statement wrapper to the
// start function its siblings (same origin) show, when they all show the same one. gs is
// changed in place; the Location values are shared, not copied.
func Normalize(gs []snapshot.Goroutine) {
	type site struct {
		fn, file string
		line     int
	}
	starts := map[site]*snapshot.Location{}
	ambiguous := map[site]bool{}
	wrapped := false
	for i := range gs {
		g := &gs[i]
		if g.Origin == nil || g.Start == nil {
			continue
		}
		if isGoWrapper(g.Start.Func) {
			wrapped = true
			continue
		}
		k := site{g.Origin.Func, g.Origin.File, g.Origin.Line}
		if s, ok := starts[k]; ok && s.Func != g.Start.Func {
			ambiguous[k] = true
		}
		starts[k] = g.Start
	}
	if !wrapped {
		return
	}
	for i := range gs {
		g := &gs[i]
		if g.Origin == nil || g.Start == nil || !isGoWrapper(g.Start.Func) {
			continue
		}
		k := site{g.Origin.Func, g.Origin.File, g.Origin.Line}
		if s, ok := starts[k]; ok && !ambiguous[k] {
			g.Start = s
		}
	}
}

// isGoWrapper says whether fn is a go statement's wrapper: "pkg.F.gowrap1".
func isGoWrapper(fn string) bool {
	i := strings.LastIndex(fn, ".gowrap")
	if i < 0 || i+len(".gowrap") == len(fn) {
		return false
	}
	for _, c := range fn[i+len(".gowrap"):] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
