package gowrap

import (
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

func TestNormalize(t *testing.T) {
	at := func(line int) *snapshot.Location {
		return &snapshot.Location{Func: "main.main", File: "/m.go", Line: line}
	}
	start := func(fn string) *snapshot.Location { return &snapshot.Location{Func: fn} }
	gs := []snapshot.Goroutine{
		{ID: 1, Origin: at(10), Start: start("main.work")},
		{ID: 2, Origin: at(10), Start: start("main.main.gowrap1")}, // not run yet: → main.work
		{ID: 3, Origin: at(20), Start: start("main.main.gowrap2")}, // no sibling: stays
		{ID: 4, Origin: at(30), Start: start("main.a")},
		{ID: 5, Origin: at(30), Start: start("main.b")},
		{ID: 6, Origin: at(30), Start: start("main.main.gowrap3")},   // siblings disagree: stays
		{ID: 7, Origin: at(40), Start: start("main.main.gowrapper")}, // not a wrapper name
	}
	Normalize(gs)
	want := []string{"main.work", "main.work", "main.main.gowrap2", "main.a", "main.b", "main.main.gowrap3", "main.main.gowrapper"}
	for i, g := range gs {
		if g.Start.Func != want[i] {
			t.Errorf("goroutine %d: start %s, want %s", g.ID, g.Start.Func, want[i])
		}
	}
}
