package report

import "github.com/gorigin-dev/gorigin/snapshot"

// seenColumn is SEEN, gorigin's own answer to "since when" beside the runtime's WAITING:
// how many of the group's goroutines gorigin's previous look at the process already saw
// blocked at the same place, and how long ago at least ("1,990 12m ago": each of the
// 1,990 has been there 12 minutes or more). Only when there was a previous look.
func seenColumn(s *snapshot.Snapshot) (column, bool) {
	return column{head: "SEEN", drop: 3, cell: func(g *snapshot.Group) cell {
		n, sec := snapshot.Seen(s.Goroutines, g.Members)
		if n == 0 {
			return text("-")
		}
		return cell{main: thousands(int64(n)), sep: " ", rest: humanWait(sec) + " ago", restStyle: dim}
	}}, s.Source.PreviousLook != nil
}

// withSeen puts the SEEN column right after WAITING (or last) when s has a previous look.
func withSeen(cols []column, s *snapshot.Snapshot) []column {
	c, ok := seenColumn(s)
	if !ok {
		return cols
	}
	at := len(cols)
	for i := range cols {
		if cols[i].head == "WAITING" {
			at = i + 1
		}
	}
	return append(cols[:at:at], append([]column{c}, cols[at:]...)...)
}
