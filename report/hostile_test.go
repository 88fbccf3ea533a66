package report

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// Strings a target controls (labels from request data, function names and file paths of
// its executable, a dump's fields) written to act on a terminal or to break a format.
const (
	retitle = "\x1b]0;pwned\x07"
	clear   = "\x1b[2J"
	csiC1   = "\u009b31m"
	bidi    = "\u202egnp.exe"
	nul     = "a\x00b"
	badUTF8 = "\xff\xfe"
	quoteBS = `"quoted" \back\slash\l\N`
)

// hostile is a snapshot whose every text field carries one of the strings above.
func hostile() *snapshot.Snapshot {
	origin := loc("main.spawn"+clear, "/src/"+retitle+"/main.go", 7)
	start := loc("main.work"+bidi+csiC1, "/src/main"+nul+".go", 9)
	s := &snapshot.Snapshot{
		Schema: snapshot.Schema,
		Source: snapshot.Source{Kind: "dump", Backend: "text", File: "/tmp/dump" + retitle, Exe: "/srv/app" + clear,
			GoVersion: "go1.26" + badUTF8, TakenAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		Warnings: []string{"a warning " + retitle + clear},
	}
	for i, tenant := range []string{retitle, clear, csiC1, bidi, nul, badUTF8, quoteBS, "plain"} {
		s.Goroutines = append(s.Goroutines, snapshot.Goroutine{
			ID: int64(10 + i), ParentID: 1, Status: "waiting", WaitReason: "chan receive" + clear,
			Origin: origin, Start: start,
			Frames: []snapshot.Location{{Func: "main.recv" + retitle, File: "/src/x" + bidi + ".go", Line: 3}},
			Labels: map[string]string{"tenant" + clear: tenant},
		})
	}
	return s
}

// checkNoControls fails if out holds a character a terminal acts on: C0 controls but
// newline, DEL, C1 controls, format characters, or bytes that are not UTF-8 (and U+FFFD,
// which none of the inputs holds); the renderer's own colour sequences are stripped first
// when color is set.
func checkNoControls(t *testing.T, what string, out []byte, color bool) {
	t.Helper()
	s := string(out)
	if color {
		s = stripSGR(s)
	}
	for i, r := range s {
		if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) ||
			unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			t.Errorf("%s: %U at byte %d: %q", what, r, i, s[max(0, i-20):min(len(s), i+20)])
			return
		}
	}
}

// TestTextEscapesHostileStrings: the text table, in every key, with and without colour
// and -v, shows hostile strings escaped (the escaped form is there, the raw one is not).
func TestTextEscapesHostileStrings(t *testing.T) {
	s := hostile()
	for _, by := range []string{"origin", "start", "location", "wait", "label:tenant" + clear, "parent"} {
		for _, color := range []bool{false, true} {
			key, err := snapshot.ParseKey(by)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			opt := Options{Verbose: true, Color: color, Width: 200}
			if err := Render(&out, "text", snapshot.GroupSnapshot(s, key), opt); err != nil {
				t.Fatal(err)
			}
			what := "text --by " + Printable(by)
			checkNoControls(t, what, out.Bytes(), color)
			for _, want := range []string{`\x1b]0;pwned\a`, `\x1b[2J`} {
				if !strings.Contains(stripSGR(out.String()), want) {
					t.Errorf("%s: the escaped %s is not shown:\n%s", what, want, out.String())
				}
			}
		}
	}
}

// TestDotAcceptsHostileLabels: Graphviz renders the DOT of the hostile snapshot, grouped
// by the hostile label, without a complaint, one node per group, and its SVG shows each
// label (in the node's tooltip) escaped.
func TestDotAcceptsHostileLabels(t *testing.T) {
	s := hostile()
	key, err := snapshot.ParseKey("label:tenant" + clear)
	if err != nil {
		t.Fatal(err)
	}
	groups, g := renderDot(t, s, key, Options{})
	if len(g.nodes) != len(groups)+1 { // +1: the pseudo-node of the parent not in the dump
		t.Errorf("SVG has %d nodes, want one per group (%d) and the missing parent's", len(g.nodes), len(groups))
	}
	var src bytes.Buffer
	if err := Render(&src, "dot", snapshot.GroupSnapshot(s, key), Options{}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dot", "-Tsvg")
	cmd.Stdin = &src
	svg, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`\x1b]0;pwned\a`, `\x00`, `\xff\xfe`, `\u202egnp.exe`, `\u009b31m`, `&quot;quoted&quot; \back\slash\l`} {
		// (Graphviz expands escapes in a tooltip twice, so the label's \N becomes the
		// node's name there; in the DOT it is written as \\N like every backslash.)
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("the SVG does not show %s", want)
		}
	}
	checkNoControls(t, "SVG", svg, false)
}
