package snapshot

// Grouped is a snapshot with its goroutines grouped by one key. The groups' Members index
// the snapshot's Goroutines, and Grouped keeps the two together: made only by GroupSnapshot, it
// cannot hold groups of other goroutines.
type Grouped struct {
	snap   *Snapshot
	key    Key
	groups []Group
}

// GroupSnapshot groups s's goroutines by k (GroupBy).
func GroupSnapshot(s *Snapshot, k Key) Grouped {
	return Grouped{snap: s, key: k, groups: GroupBy(s.Goroutines, k)}
}

// GroupSelection groups the goroutines of shown, a copy of a snapshot holding those
// chosen from all (Select, WithoutSystem), by k. A key that looks at other goroutines
// (parent) finds them among all, so a parent filtered out still names its go statement.
func GroupSelection(shown *Snapshot, all []Goroutine, k Key) Grouped {
	return Grouped{snap: shown, key: k, groups: groupBy(shown.Goroutines, all, k)}
}

// Snapshot is the snapshot whose goroutines were grouped.
func (g Grouped) Snapshot() *Snapshot { return g.snap }

// Key is the key the goroutines were grouped by.
func (g Grouped) Key() Key { return g.key }

// Groups are the groups, sorted as GroupBy sorts them; their Members index
// Snapshot().Goroutines.
func (g Grouped) Groups() []Group { return g.groups }
