package report

import (
	"strconv"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// leakColumn is the LEAK column, present when leak analysis ran (some goroutine has a
// Leak verdict): how many of the group's members are leaked, then the rest ("3 leaked",
// "2 leaked +1 live", "live").
func leakColumn(s *snapshot.Snapshot) (column, bool) {
	ran := false
	for i := range s.Goroutines {
		if s.Goroutines[i].Leak != "" {
			ran = true
			break
		}
	}
	return column{head: "LEAK", cut: keepStart, shrink: 6, minWidth: 6, cell: func(g *snapshot.Group) cell {
		n := map[string]int{}
		for _, m := range g.Members {
			if m < len(s.Goroutines) {
				n[s.Goroutines[m].Leak]++
			}
		}
		var c cell
		for _, v := range []string{"leaked", "live", "unknown"} {
			if n[v] == 0 {
				continue
			}
			part := v
			if n[v] != g.Count {
				part = strconv.Itoa(n[v]) + " " + v
			}
			switch {
			case c.main == "":
				c.main = part
				if v == "leaked" {
					c.style = red
				}
			default:
				c.rest += " +" + part
			}
		}
		if c.main == "" {
			c.main = "-"
		}
		return c
	}}, ran
}
