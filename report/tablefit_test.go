package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

func TestSuffixPaths(t *testing.T) {
	at := func(path string) cell { return locCell(&snapshot.Location{Func: "main.f", File: path, Line: 7}) }
	rows := [][]cell{
		{at("/src/svc/cmd/api/main.go"), at("/src/svc/server/serve.go")},
		{at("/src/svc/cmd/worker/main.go"), text("-")},
		{at("/src/svc/cmd/api/main.go"), at("/usr/local/go/src/net/http/server.go")},
		{at("/x/main.go"), at("main.go")},
		{at("/go/pkg/mod/a/v2/api/main.go"), at("/src/svc/server/serve.go")},
	}
	suffixPaths(rows)
	want := [][]string{
		{"cmd/api/main.go:7", "serve.go:7"},
		{"worker/main.go:7", ""},
		{"cmd/api/main.go:7", "server.go:7"}, // one file reads the same in every row
		{"/x/main.go:7", "main.go:7"},        // a whole path is unique
		{"v2/api/main.go:7", "serve.go:7"},
	}
	for r := range rows {
		for i, w := range want[r] {
			if got := rows[r][i].rest; got != w {
				t.Errorf("row %d cell %d: %q, want %q", r, i, got, w)
			}
		}
	}
}

// TestFitOrder narrows the table a column at a time and checks the order in which it
// gives things up: function names shorten, then EXAMPLES goes, then STACK, and the go
// statement's file:line is whole while anything else could still give.
func TestFitOrder(t *testing.T) {
	s := apiServer()
	// A second main.go, so that the table needs directories to tell them apart.
	for i := range s.Goroutines {
		if g := &s.Goroutines[i]; g.Origin != nil && g.Origin.File == "/home/dev/api/server/serve.go" {
			g.Origin = loc("github.com/acme/api/internal/server.(*Server[...]).serveConn", "/home/dev/api/internal/server/main.go", 212)
		}
	}
	wantAt := []string{"api/main.go:94", "spawn.go:8", "server/main.go:212"}
	lastEx, lastStack := 1000, 1000
	for width := 160; width >= 40; width-- {
		var buf bytes.Buffer
		if err := Text(&buf, snapshot.GroupSnapshot(s, snapshot.Key{}), TextOptions{Width: width}); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		for _, l := range lines {
			if runes(l) > width {
				t.Errorf("width %d: a line of %d: %q", width, runes(l), l)
			}
		}
		heads := lines[1]
		if strings.HasPrefix(heads, "frozen") {
			heads = lines[2]
		}
		hasEx, hasStack := strings.Contains(heads, "EXAMPLES"), strings.Contains(heads, "STACK")
		if !hasEx {
			lastEx = min(lastEx, width)
		}
		if !hasStack {
			lastStack = min(lastStack, width)
		}
		if hasEx && lastEx < 1000 || hasStack && lastStack < 1000 {
			t.Errorf("width %d: a column left out at a wider width is back:\n%s", width, out)
		}
		if !hasStack && hasEx {
			t.Errorf("width %d: STACK left out before EXAMPLES:\n%s", width, out)
		}
		if !hasEx && !strings.Contains(out, "…") {
			t.Errorf("width %d: EXAMPLES left out while every name is whole:\n%s", width, out)
		}
		for _, at := range wantAt {
			if !strings.Contains(out, "  "+at) && (hasEx || hasStack) {
				t.Errorf("width %d: %s lost while EXAMPLES or STACK is still shown:\n%s", width, at, out)
			}
		}
		if width >= 60 {
			for _, at := range wantAt {
				if !strings.Contains(out, at) {
					t.Errorf("width %d: the go statement's %s is not shown whole:\n%s", width, at, out)
				}
			}
		}
	}
	if lastStack == 1000 {
		t.Errorf("STACK was never left out down to 40 columns: the order is not tested")
	}
}
