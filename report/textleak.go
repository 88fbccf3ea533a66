package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// leakVerdicts are the leak analysis's verdicts, in the order the renderers list them.
var leakVerdicts = []snapshot.Verdict{snapshot.Leaked, snapshot.Live, snapshot.Unknown}

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
func leakCounts(s *snapshot.Snapshot, g *snapshot.Group) map[snapshot.Verdict]int {
	n := map[snapshot.Verdict]int{}
	for _, m := range g.Members {
		if m >= 0 && m < len(s.Goroutines) {
			n[s.Goroutines[m].Leak]++
		}
	}
	return n
}

// leakParts are a group's verdicts, leaked first, each with its count unless it is the
// whole group's: ["3 leaked", "1 live"], ["live"]; none when no member has a verdict.
func leakParts(n map[snapshot.Verdict]int, count int) []string {
	var out []string
	for _, v := range leakVerdicts {
		switch {
		case n[v] == 0:
		case n[v] == count:
			out = append(out, string(v))
		default:
			out = append(out, thousands(int64(n[v]))+" "+string(v))
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

// maxWhyObjects bounds the wait objects LeakReasons lists for one group.
const maxWhyObjects = 8

// LeakReasons writes the "why" section of gorigin leaks: for each group of g (the top
// ones; top 0: all), the objects its goroutines wait on, most waited on first, and the
// distinct reasons of their verdicts. reasons gives both for a group's members.
func LeakReasons(w io.Writer, g snapshot.Grouped, top int, reasons func(members []int) ([]snapshot.LeakWaitObject, []string)) error {
	groups := g.Groups()
	if top > 0 && len(groups) > top {
		groups = groups[:top]
	}
	var b strings.Builder
	b.WriteString("\nwhy:\n")
	for _, g := range groups {
		fmt.Fprintf(&b, "  %s (%d)\n", Printable(g.Key), g.Count)
		objs, whys := reasons(g.Members)
		for i, o := range objs {
			if i == maxWhyObjects {
				fmt.Fprintf(&b, "    and %d more objects\n", len(objs)-i)
				break
			}
			fmt.Fprintf(&b, "    waits on %s\n", Printable(waitObjectText(o)))
		}
		for _, r := range whys {
			fmt.Fprintf(&b, "    %s\n", Printable(r))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// waitObjectText is one line of the "why" section: "chan int 0xc000012345 in the heap: 3
// goroutines".
func waitObjectText(o snapshot.LeakWaitObject) string {
	t := o.Type
	if t == "" {
		t = o.Kind
	}
	where := o.Where
	switch {
	case o.Where == "global" && o.Object != "":
		where = "at " + o.Object
	case o.Object != "":
		where = o.Object
	case o.Where == "heap":
		where = "in the heap"
	default:
		where = "in the " + where
	}
	n := "1 goroutine"
	if o.Waiters != 1 {
		n = fmt.Sprintf("%d goroutines", o.Waiters)
	}
	return fmt.Sprintf("%s %s %s: %s", t, o.Addr, strings.TrimSpace(where), n)
}
