package report

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/gorigin-dev/gorigin/internal/terminal"
	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

func TestPprofRefusesTerminal(t *testing.T) {
	tty := openPty(t)
	s := apiServer()
	if err := Render(tty, "pprof", snapshot.GroupSnapshot(s, snapshot.Key{}), Options{}); err != ErrBinaryToTerminal {
		t.Errorf("pprof to a terminal: %v, want ErrBinaryToTerminal", err)
	}
}

// OpenPty and APIServer are for the external tests in this directory (terminal_cli_linux_test.go).
var OpenPty, APIServer = openPtyPair, apiServer

func TestForTerminal(t *testing.T) {
	tty := openPty(t)
	testenv.SetPtySize(t, tty, 97)
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm-256color")
	if got := terminal.Width(tty); got != 97 {
		t.Errorf("terminal.Width(pty of 97 columns) = %d", got)
	}
	if got := ForTerminal(tty, Options{Top: 3}); got != (Options{Top: 3, Width: 97, Color: true}) {
		t.Errorf("ForTerminal(pty) = %+v, want Width 97 and Color", got)
	}
	if got := ForTerminal(tty, Options{Width: 60}); got.Width != 60 {
		t.Errorf("ForTerminal kept no Width the caller set: %+v", got)
	}
	t.Setenv("NO_COLOR", "1")
	if got := ForTerminal(tty, Options{}); got.Color || got.Width != 97 {
		t.Errorf("ForTerminal with NO_COLOR = %+v, want no colour, still fitted", got)
	}
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "dumb")
	if got := ForTerminal(tty, Options{}); got.Color {
		t.Errorf("ForTerminal with TERM=dumb = %+v, want no colour", got)
	}
	for _, w := range []io.Writer{&bytes.Buffer{}, devNull(t)} {
		if got := ForTerminal(w, Options{Top: 1}); got != (Options{Top: 1}) {
			t.Errorf("ForTerminal(%T, not a terminal) = %+v, want the options unchanged", w, got)
		}
	}
}

func devNull(t *testing.T) *os.File {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// openPty opens the terminal end of a new pseudo-terminal; Cleanup closes both ends.
func openPty(t *testing.T) *os.File {
	t.Helper()
	tty, _ := openPtyPair(t)
	return tty
}

// openPtyPair opens a new pseudo-terminal (testenv.OpenPty) and checks that
// terminal.Is takes it for one.
func openPtyPair(t *testing.T) (tty, master *os.File) {
	t.Helper()
	tty, master = testenv.OpenPty(t)
	if !terminal.Is(tty) {
		t.Fatal("IsTerminal says a pty is not a terminal")
	}
	return tty, master
}
