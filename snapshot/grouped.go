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

// GroupSelection groups selected, goroutines chosen from s's (Select, WithoutSystem), by
// k. A key that looks at other goroutines (parent) finds them among all of s's, so a
// parent filtered out still names its go statement. The Grouped's snapshot is s holding
// selected.
func GroupSelection(s *Snapshot, selected []Goroutine, k Key) Grouped {
	shown := *s
	shown.Goroutines = selected
	return Grouped{snap: &shown, key: k, groups: groupBy(selected, s.Goroutines, k)}
}

// Snapshot is the snapshot whose goroutines were grouped.
func (g Grouped) Snapshot() *Snapshot { return g.snap }

// Key is the key the goroutines were grouped by.
func (g Grouped) Key() Key { return g.key }

// Groups are the groups, sorted as GroupBy sorts them; their Members index
// Snapshot().Goroutines.
func (g Grouped) Groups() []Group { return g.groups }
