package report

import "github.com/gorigin-dev/gorigin/snapshot"

// objectColumns are the table's columns under --by object: the channel, mutex, WaitGroup
// or Cond the group's goroutines wait on, its type and what holds it, after COUNT; the
// object's text is the group's key (snapshot.WaitObject.String).
func objectColumns(count, state, created, start, waiting, stack, examples column) []column {
	object := column{head: "WAITS ON", cut: keepStart, shrink: 4, minWidth: 24, cell: func(g *snapshot.Group) cell {
		return text(Printable(g.Key))
	}}
	return []column{count, object, state, created, start, waiting, stack, examples}
}
