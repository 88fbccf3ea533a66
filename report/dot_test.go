package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// svgGraph is what Graphviz's SVG says about a graph: node titles with their text, and
// edge titles ("n0->n1") with their labels.
type svgGraph struct {
	nodes map[string]string
	edges map[string]string
}

func parseGraphvizSVG(t *testing.T, svg []byte) svgGraph {
	t.Helper()
	var doc struct {
		Gs []svgG `xml:"g"`
	}
	if err := xml.Unmarshal(svg, &doc); err != nil {
		t.Fatalf("dot's SVG does not parse as XML: %v", err)
	}
	out := svgGraph{nodes: map[string]string{}, edges: map[string]string{}}
	var walk func(gs []svgG)
	walk = func(gs []svgG) {
		for _, g := range gs {
			switch g.Class {
			case "node":
				out.nodes[g.Title] = strings.Join(g.texts(), "\n")
			case "edge":
				out.edges[g.Title] = strings.Join(g.texts(), " ")
			default:
				walk(g.Gs)
			}
		}
	}
	walk(doc.Gs)
	return out
}

// svgG is an SVG group; tooltips wrap a node's shapes and texts in <g><a>.
type svgG struct {
	Class string   `xml:"class,attr"`
	Title string   `xml:"title"`
	Text  []string `xml:"text"`
	Gs    []svgG   `xml:"g"`
	As    []svgG   `xml:"a"`
}

// texts are the texts of g and of the groups and links in it, in document order.
func (g *svgG) texts() []string {
	out := g.Text
	for _, sub := range append(g.Gs, g.As...) {
		out = append(out, sub.texts()...)
	}
	return out
}

// renderDot renders s as DOT and runs Graphviz's dot -Tsvg on it.
func renderDot(t *testing.T, s *snapshot.Snapshot, key snapshot.Key, opt Options) ([]snapshot.Group, svgGraph) {
	t.Helper()
	dotBin, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("Graphviz dot is not installed (apt-get install graphviz; .ci/run installs it)")
	}
	grouped := snapshot.GroupSnapshot(s, key)
	groups := grouped.Groups()
	var src bytes.Buffer
	if err := Render(&src, "dot", grouped, opt); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dotBin, "-Tsvg")
	cmd.Stdin = &src
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	svg, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("dot -Tsvg: %v\n%s\ninput:\n%s", err, stderr.Bytes(), src.Bytes())
	}
	return groups, parseGraphvizSVG(t, svg)
}

// TestDotRendersSpawnTree renders apiServer's spawn tree with Graphviz. The edges come
// from how apiServer is built: goroutine 1 (runtime.main) started the 1,993 receivers,
// the 11 serve goroutines and the 30 workers; the workers started the 12 pollers.
func TestDotRendersSpawnTree(t *testing.T) {
	s := apiServer()
	groups, g := renderDot(t, s, snapshot.Key{}, Options{})
	if len(g.nodes) != len(groups) {
		t.Errorf("SVG has %d nodes, want one per group: %d\n%v", len(g.nodes), len(groups), g.nodes)
	}
	node := map[string]string{} // start function → node title
	for i, grp := range groups {
		title := fmt.Sprintf("n%d", i)
		text, ok := g.nodes[title]
		if !ok {
			t.Errorf("group %s: no node %s in the SVG", grp.Key, title)
			continue
		}
		for _, want := range []string{thousands(int64(grp.Count)) + " goroutine", shortFunc(grp.Start.Func), grp.States[0].String()} {
			if !strings.Contains(text, want) {
				t.Errorf("node %s of group %s reads %q, want it to contain %q", title, grp.Key, text, want)
			}
		}
		node[grp.Start.Func] = title
	}
	want := map[string]string{
		node["runtime.main"] + "->" + node["main.blockRecv"]:                                   "1,993",
		node["runtime.main"] + "->" + node["github.com/acme/api/server.(*server).serve.func1"]: "11",
		node["runtime.main"] + "->" + node["main.worker"]:                                      "30",
		node["main.worker"] + "->" + node["main.poller"]:                                       "12",
	}
	for e, label := range want {
		if g.edges[e] != label {
			t.Errorf("edge %s labelled %q, want %q", e, g.edges[e], label)
		}
	}
	if len(g.edges) != len(want) {
		t.Errorf("SVG has edges %v, want %v", g.edges, want)
	}
}

func TestDotPrunesWithNote(t *testing.T) {
	s := bigSnapshot(2000) // 50 groups
	for i := range s.Goroutines {
		s.Goroutines[i].ParentID = 0
	}
	s.Goroutines[0].ParentID = 999999 // a parent that exited
	var src bytes.Buffer
	if err := Dot(&src, snapshot.GroupSnapshot(s, snapshot.Key{}), Options{Top: 10}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(src.String(), "40 smaller groups (1,600 goroutines) not shown") {
		t.Errorf("pruned DOT has no note saying what it left out:\n%s", src.String())
	}
	_, g := renderDot(t, s, snapshot.Key{}, Options{Top: 10})
	pseudo := 0
	if strings.Contains(strings.Join(mapValues(g.nodes), "\n"), goneParents) {
		pseudo = 1
	}
	if got := len(g.nodes); got != 10+pseudo {
		t.Errorf("pruned SVG has %d nodes, want 10 groups + %d", got, pseudo)
	}
}

func TestDotQuote(t *testing.T) {
	for in, want := range map[string]string{
		`a`:            `"a"`,
		`say "hi"`:     `"say \"hi\""`,
		`C:\x`:         `"C:\\x"`,
		"one\ntwo\n":   `"one\ltwo\l"`,
		"main.F[a\"b]": `"main.F[a\"b]"`,
	} {
		if got := dotQuote(in); got != want {
			t.Errorf("dotQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
