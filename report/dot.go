package report

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/gorigin-dev/gorigin/snapshot"
)

func init() { register("dot", dot) }

// Dot writes g's spawn tree as a Graphviz graph (Render).
func Dot(w io.Writer, g snapshot.Grouped, opt Options) error { return Render(w, "dot", g, opt) }

// Dot writes the spawn tree as a Graphviz digraph: a node per group (its count, go
// statement, start function and dominant state), an edge from the group of each
// goroutine's parent to its group, labelled with how many goroutines it stands for.
// After leak analysis, a group with leaked goroutines says "N leaked" and has a red border.
// Trees of more than 150 groups (or opt.Top) keep the largest groups and say what they
// left out. Render it with `dot -Tsvg`.
func dot(w io.Writer, s *snapshot.Snapshot, groups []snapshot.Group, opt Options) error {
	t, err := buildSpawnTree(s, groups, opt.Top)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	title := "gorigin: " + sourceText(s.Source) + ", " + thousands(int64(len(s.Goroutines))) + " goroutines by " + opt.by.String()
	if note := t.prunedNote(); note != "" {
		title += "\n" + note
	}
	b.WriteString("digraph gorigin {\n")
	fmt.Fprintf(&b, "  graph [rankdir=LR, labelloc=t, fontname=\"Helvetica\", fontsize=12, label=%s];\n", dotQuote(title))
	b.WriteString("  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10, fillcolor=\"#ffffff\"];\n")
	b.WriteString("  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n")
	total := max(len(s.Goroutines), 1)
	leaks := leakRan(s)
	for i := range t.nodes {
		n := &t.nodes[i]
		lines := n.lines()
		leaked := 0
		if leaks && n.group != nil {
			leaked = leakCounts(s, n.group)["leaked"]
		}
		if leaked > 0 {
			lines = append(lines, thousands(int64(leaked))+" leaked")
		}
		attrs := fmt.Sprintf("label=%s", dotQuote(strings.Join(lines, "\n")+"\n"))
		if n.group != nil {
			attrs += fmt.Sprintf(", tooltip=%s, fillcolor=%q", dotQuote(n.group.Key), heatColour(n.count, total))
			if leaked > 0 {
				attrs += `, color="#cc0000", penwidth=2`
			}
		} else {
			attrs += ", style=\"rounded,dashed\""
		}
		fmt.Fprintf(&b, "  n%d [%s];\n", i, attrs)
	}
	for _, e := range t.edges {
		width := 1 + 4*math.Log1p(float64(e.count))/math.Log1p(float64(total))
		fmt.Fprintf(&b, "  n%d -> n%d [label=%q, penwidth=%.2f];\n", e.from, e.to, thousands(int64(e.count)), width)
	}
	b.WriteString("}\n")
	_, err = w.Write(b.Bytes())
	return err
}

// dotQuote quotes s as a DOT string whose lines are left-aligned. Each line is made
// Printable first: Graphviz rejects a NUL or bytes that are not UTF-8, and takes other
// controls literally into the picture.
func dotQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, line := range strings.Split(s, "\n") {
		if i > 0 {
			b.WriteString(`\l`)
		}
		for _, r := range Printable(line) {
			if r == '"' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// heatColour is a fill from white to orange as a group's share of all goroutines grows.
func heatColour(n, total int) string {
	f := math.Sqrt(float64(n) / float64(total))
	mix := func(a, b int) int { return a + int(math.Round(f*float64(b-a))) }
	return fmt.Sprintf("#%02x%02x%02x", mix(0xff, 0xff), mix(0xff, 0xa0), mix(0xff, 0x40))
}
