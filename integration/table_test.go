package integration

// The text table on a terminal (issue 19, item 1): on any width the go statement's
// file:line is shown whole, and no line is wider than the terminal. gorigin runs with
// its stdout on a pseudo-terminal of the width under test, as a user's terminal.

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// TestTableKeepsGoStatementAtAnyWidth attaches to the fixture at 60, 80, 120 and 200
// columns and reads the CREATED AT column of every row: its file:line must be one the
// runtime names as a go statement (debug=2's "created by"), and every go statement of
// the fixture's source must be in the table at its line, with its count.
func TestTableKeepsGoStatementAtAnyWidth(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	v := hostVariant(t)
	f := startFixture(t, fixtureBinary(t, v), "-n", "3")
	created := map[string]bool{} // "file:line" of every go statement the runtime names
	for _, g := range f.debug2(t) {
		if g.CreatedBy != nil {
			created[g.CreatedBy.File+":"+strconv.Itoa(g.CreatedBy.Line)] = true
		}
	}
	stmts := fixtureGoStatements(t, v.Cgo, 3)
	for _, cols := range []int{60, 80, 120, 200} {
		t.Run(strconv.Itoa(cols), func(t *testing.T) {
			out := runOnPty(t, cols, "attach", strconv.Itoa(f.Pid), "--top", "0")
			rows := tableCells(t, out, "CREATED AT")
			for _, l := range strings.Split(out, "\n") {
				if n := utf8.RuneCountInString(l); n > cols {
					t.Errorf("a line of %d columns on a terminal of %d: %q", n, cols, l)
				}
			}
			count := map[string]int{} // shown "suffix:line" → goroutines
			for _, r := range rows {
				at := fileLineRE.FindString(r.cell)
				if at == "" {
					if !strings.HasPrefix(r.cell, "(no go statement") {
						t.Errorf("row %q: CREATED AT %q has no whole file:line", r.line, r.cell)
					}
					continue
				}
				if !oracleHas(created, at) {
					t.Errorf("row %q: %s is no go statement the runtime names (created by)", r.line, at)
				}
				count[at] += r.count
			}
			for _, s := range stmts {
				if s.External || s.Count == 0 || restless(s.Name) {
					continue
				}
				if at := s.File + ":" + strconv.Itoa(s.Line); count[at] != s.Count {
					t.Errorf("go statement %s (%s): %d goroutines in rows showing %s, want %d\n%s", s.Name, at, count[at], at, s.Count, out)
				}
			}
		})
	}
	testenv.CheckRunsFreely(t, f.Pid, 100*time.Millisecond)
}

// fileLineRE is the file:line at the end of a location cell, path suffixes included.
var fileLineRE = regexp.MustCompile(`[^\s…]+\.(go|s|c):\d+$`)

// oracleHas reports whether at ("spawn.go:33", "fixture/spawn.go:33") is the end of one
// of the oracle's "file:line"s, at a path element boundary.
func oracleHas(oracleAt map[string]bool, at string) bool {
	for full := range oracleAt {
		if full == at || strings.HasSuffix(full, "/"+at) {
			return true
		}
	}
	return false
}

// A tableRow is one row of the text table: its COUNT and the text under one column head.
type tableRow struct {
	line  string
	count int
	cell  string
}

// tableCells finds the table's column heads in out and returns each row's count and the
// cell under the head that starts with head (up to the next column's head).
func tableCells(t *testing.T, out, head string) []tableRow {
	t.Helper()
	lines := strings.Split(out, "\n")
	h := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "COUNT  ") {
			h = i
			break
		}
	}
	if h < 0 {
		t.Fatalf("no table heads in:\n%s", out)
	}
	heads := []rune(lines[h])
	from := strings.Index(lines[h], head)
	if from < 0 {
		t.Fatalf("no column %q in the heads %q", head, lines[h])
	}
	from = utf8.RuneCountInString(lines[h][:from])
	to := len(heads)
	for i := from; i+2 < len(heads); i++ {
		if heads[i] == ' ' && heads[i+1] == ' ' && heads[i+2] != ' ' {
			to = i
			break
		}
	}
	var rows []tableRow
	for _, l := range lines[h+1:] {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.Atoi(strings.ReplaceAll(f[0], ",", ""))
		if err != nil {
			continue // "(+12 system goroutines not shown: --system)"
		}
		r := []rune(l)
		if len(r) < from {
			t.Fatalf("row %q ends before column %q", l, head)
		}
		rows = append(rows, tableRow{line: l, count: n, cell: strings.TrimSpace(string(r[from:min(to, len(r))]))})
	}
	if len(rows) == 0 {
		t.Fatalf("no rows under the heads:\n%s", out)
	}
	return rows
}

// runOnPty runs the gorigin command with its stdout on a new pseudo-terminal of cols
// columns (stderr apart, as a terminal user's progress bar goes there) and NO_COLOR set,
// and returns what the terminal received with its \r\n made \n.
func runOnPty(t *testing.T, cols int, args ...string) string {
	t.Helper()
	tty, master := testenv.OpenPty(t)
	testenv.SetPtySize(t, tty, cols)
	received := testenv.CapturePty(master)
	cmd := exec.Command(needGorigin(t), args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "TERM=xterm")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = tty, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("gorigin %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	tty.Close()
	return received(2 * time.Second) // the rest is buffered

}
