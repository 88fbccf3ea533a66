package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorigin-dev/gorigin/internal/cli"
	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/report"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestCLIColorsOnlyOnATerminal runs the command line (gorigin dump SNAPSHOT.json) with its
// stdout on a pseudo-terminal, on a file, and with NO_COLOR, and reads what a terminal
// would have shown.
func TestCLIColorsOnlyOnATerminal(t *testing.T) {
	snapFile := filepath.Join(t.TempDir(), "api.json")
	var js bytes.Buffer
	if err := snapshot.Encode(&js, report.APIServer()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(snapFile, js.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	const cols = 90
	t.Setenv("TERM", "xterm")

	t.Run("terminal", func(t *testing.T) {
		t.Setenv("NO_COLOR", "")
		out := runOnPty(t, cols, "dump", snapFile)
		if !strings.Contains(out, "\x1b[1m1,993\x1b[0m") {
			t.Errorf("no bold count on a terminal:\n%q", out)
		}
		checkFits(t, out, cols)
	})
	t.Run("NO_COLOR", func(t *testing.T) {
		t.Setenv("NO_COLOR", "1")
		out := runOnPty(t, cols, "dump", snapFile)
		if strings.Contains(out, "\x1b") {
			t.Errorf("NO_COLOR=1 and still an escape sequence:\n%q", out)
		}
		checkFits(t, out, cols)
	})
	t.Run("file", func(t *testing.T) {
		t.Setenv("NO_COLOR", "")
		f, err := os.Create(filepath.Join(t.TempDir(), "out.txt"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var stderr bytes.Buffer
		if st := cli.Run([]string{"dump", snapFile}, f, &stderr); st != 0 {
			t.Fatalf("gorigin dump: status %d: %s", st, stderr.Bytes())
		}
		out, _ := os.ReadFile(f.Name())
		if bytes.Contains(out, []byte("\x1b")) {
			t.Errorf("an escape sequence in a file:\n%q", out)
		}
		if !bytes.Contains(out, []byte("server.(*server).serve.func1")) {
			t.Errorf("output to a file is shortened:\n%s", out)
		}
	})
	t.Run("-o from a terminal", func(t *testing.T) {
		t.Setenv("NO_COLOR", "")
		path := filepath.Join(t.TempDir(), "out.txt")
		runOnPty(t, cols, "dump", snapFile, "-o", path)
		out, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(out, []byte("\x1b")) || !bytes.Contains(out, []byte("1,993")) {
			t.Errorf("-o FILE run from a terminal: want the plain table in the file, got:\n%q", out)
		}
	})
}

// runOnPty runs gorigin with its stdout on a new pty of cols columns and returns what the
// terminal received, line ends as written (the pty's \r\n made \n again).
func runOnPty(t *testing.T, cols int, args ...string) string {
	t.Helper()
	tty, master := report.OpenPty(t)
	testenv.SetPtySize(t, tty, cols)
	received := testenv.CapturePty(master)
	var stderr bytes.Buffer
	if st := cli.Run(args, tty, &stderr); st != 0 {
		t.Fatalf("gorigin %s: status %d: %s", strings.Join(args, " "), st, stderr.Bytes())
	}
	return received(300 * time.Millisecond)
}

var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

func checkFits(t *testing.T, out string, cols int) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 7 {
		t.Fatalf("want a header, column heads and 5 groups, got:\n%s", out)
	}
	for _, l := range lines {
		if n := utf8.RuneCountInString(sgr.ReplaceAllString(l, "")); n > cols {
			t.Errorf("a line of %d columns on a terminal of %d: %q", n, cols, l)
		}
	}
}
