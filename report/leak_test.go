package report

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// leakyAPIServer is apiServer after leak analysis: of the 1,993 receivers (main.blockRecv)
// 1,500 are leaked and 493 live, the 12 pollers unknown, everything else live.
func leakyAPIServer() *snapshot.Snapshot {
	s := apiServer()
	recv := 0
	for i := range s.Goroutines {
		g := &s.Goroutines[i]
		g.Leak = "live"
		switch g.Start.Func {
		case "main.blockRecv":
			if recv < 1500 {
				g.Leak = "leaked"
			}
			recv++
		case "main.poller":
			g.Leak = "unknown"
		}
	}
	return s
}

// TestPprofLeakLabel reads the leak verdicts back with go tool pprof -tagfocus.
func TestPprofLeakLabel(t *testing.T) {
	s := leakyAPIServer()
	path := writeProfile(t, s)
	for verdict, want := range map[string]int{"leaked": 1500, "unknown": 12} {
		flat, _ := pprofTop(t, path, "-tagfocus=leak="+verdict)
		total := 0
		for _, n := range flat {
			total += n
		}
		if total != want {
			t.Errorf("pprof -top -tagfocus=leak=%s: %d goroutines (%v), want %d", verdict, total, flat, want)
		}
	}
	// Without leak analysis there is no leak label.
	p, err := Profile(apiServer())
	if err != nil {
		t.Fatal(err)
	}
	for _, smp := range p.Sample {
		if _, ok := smp.Label[LabelLeak]; ok {
			t.Fatalf("a sample has a leak label, but no leak analysis ran: %v", smp.Label)
		}
	}
}

// TestDotLeakedNodes renders the spawn tree with Graphviz: the receivers' node says how
// many of them are leaked, and no other node speaks of leaks.
func TestDotLeakedNodes(t *testing.T) {
	s := leakyAPIServer()
	groups, g := renderDot(t, s, snapshot.Key{}, Options{})
	seen := false
	for i, grp := range groups {
		text := g.nodes[fmt.Sprintf("n%d", i)]
		if grp.Start.Func == "main.blockRecv" {
			seen = true
			if !strings.Contains(text, "1,500 leaked") {
				t.Errorf("the receivers' node reads %q, want it to say 1,500 leaked", text)
			}
		} else if strings.Contains(text, "leaked") {
			t.Errorf("node of %s reads %q: nothing in it is leaked", grp.Key, text)
		}
	}
	if !seen {
		t.Fatal("apiServer has no main.blockRecv group")
	}
}

// TestHTMLLeakColumnAndFilter loads the report in Chromium with #leak=unknown: the LEAK
// column gives each group's verdicts, and the filter leaves only the pollers' group.
// Without leak analysis there is neither column nor filter.
func TestHTMLLeakColumnAndFilter(t *testing.T) {
	bin := chromium(t)
	s := leakyAPIServer()
	groups, path := writeHTMLReport(t, s)
	dom := string(runChromium(t, bin, "file://"+path+"#leak=unknown", "--dump-dom"))
	bodies := regexp.MustCompile(`(?s)<tbody class="group-body([^"]*)" id="(g\d+)"[^>]*>(.*?)</tbody>`).FindAllStringSubmatch(dom, -1)
	if len(bodies) != len(groups) {
		t.Fatalf("the DOM has %d group rows, want %d\n%.3000s", len(bodies), len(groups), dom)
	}
	want := map[string]string{"main.blockRecv": "1,500 leaked +493 live", "main.poller": "unknown"}
	for i, b := range bodies {
		grp := &groups[i]
		cell := want[grp.Start.Func]
		if cell == "" {
			cell = "live"
		}
		if !strings.Contains(b[3], ">"+cell+"</td>") {
			t.Errorf("row %s (%s) has no LEAK cell %q:\n%s", b[2], grp.Key, cell, b[3])
		}
		hidden := strings.Contains(b[1], "leak-hidden")
		if wantHidden := grp.Start.Func != "main.poller"; hidden != wantHidden {
			t.Errorf("with the filter on unknown, row %s (%s) hidden = %v, want %v", b[2], grp.Key, hidden, wantHidden)
		}
	}
	if !strings.Contains(dom, "<th data-type=\"text\">LEAK</th>") || !strings.Contains(dom, `id="leak-filter"`) {
		t.Error("no LEAK column header or leak filter")
	}
	_, plain := writeHTMLReport(t, apiServer())
	dom = string(runChromium(t, bin, "file://"+plain, "--dump-dom"))
	if strings.Contains(dom, ">LEAK</th>") || strings.Contains(dom, `id="leak-filter"`) {
		t.Error("a report without leak analysis has a LEAK column or filter")
	}
}
