package report

import "github.com/gorigin-dev/gorigin/snapshot"

// objectColumns are the table's columns under --by object: the channel, mutex, WaitGroup
// or Cond the group's goroutines wait on, its type and what holds it, after COUNT; the
// object's text is the group's key (snapshot.WaitObject.String). On a narrow terminal
// the object keeps its minWidth longest, and START (the go statement's file:line already
// says where they come from) is left out after EXAMPLES, STACK and SEEN.
func objectColumns(count, state, created, start, waiting, stack, examples column) []column {
	object := column{head: "WAITS ON", cut: keepStart, shrink: 6, minWidth: 24, key: true, cell: func(g *snapshot.Group) cell {
		return text(Printable(g.Key))
	}}
	start.drop = 4
	return []column{count, object, state, created, start, waiting, stack, examples}
}
