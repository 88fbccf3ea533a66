package report

import (
	"strings"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// leakVerdicts are the leak analysis's verdicts, in the order the renderers list them.
var leakVerdicts = []string{"leaked", "live", "unknown"}

// leakRan reports whether leak analysis ran on s: some goroutine has a Leak verdict.
func leakRan(s *snapshot.Snapshot) bool {
	for i := range s.Goroutines {
		if s.Goroutines[i].Leak != "" {
			return true
		}
	}
	return false
}

// leakCounts counts a group's members by leak verdict.
func leakCounts(s *snapshot.Snapshot, g *snapshot.Group) map[string]int {
	n := map[string]int{}
	for _, m := range g.Members {
		if m >= 0 && m < len(s.Goroutines) {
			n[s.Goroutines[m].Leak]++
		}
	}
	return n
}

// leakParts are a group's verdicts, leaked first, each with its count unless it is the
// whole group's: ["3 leaked", "1 live"], ["live"]; none when no member has a verdict.
func leakParts(n map[string]int, count int) []string {
	var out []string
	for _, v := range leakVerdicts {
		switch {
		case n[v] == 0:
		case n[v] == count:
			out = append(out, v)
		default:
			out = append(out, thousands(int64(n[v]))+" "+v)
		}
	}
	return out
}

// leakText is a group's leak cell: "3 leaked +1 live", "live", or "-".
func leakText(s *snapshot.Snapshot, g *snapshot.Group) string {
	parts := leakParts(leakCounts(s, g), g.Count)
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " +")
}

// leakColumn is the LEAK column, present when leak analysis ran (some goroutine has a
// Leak verdict): how many of the group's members are leaked, then the rest ("3 leaked",
// "2 leaked +1 live", "live").
func leakColumn(s *snapshot.Snapshot) (column, bool) {
	return column{head: "LEAK", cut: keepStart, shrink: 6, minWidth: 6, cell: func(g *snapshot.Group) cell {
		n := leakCounts(s, g)
		parts := leakParts(n, g.Count)
		if len(parts) == 0 {
			return cell{main: "-"}
		}
		c := cell{main: parts[0]}
		if n["leaked"] > 0 {
			c.style = red
		}
		for _, p := range parts[1:] {
			c.rest += " +" + p
		}
		return c
	}}, leakRan(s)
}
