package dap

import (
	"bufio"
	"bytes"
	"context"
	"testing"

	godap "github.com/google/go-dap"
)

// TestOutputEscapesControls: text for the IDE's debug console (which acts on ANSI escapes
// like a terminal) quotes the target; its control characters arrive escaped, its line
// breaks as they are.
func TestOutputEscapesControls(t *testing.T) {
	var buf bytes.Buffer
	s := newSession(context.Background(), &buf, Sources{})
	s.output("stderr", "warning: label \x1b]0;pwned\x07 and \x1b[2J\u202e\nnext line\n")
	m, err := godap.ReadProtocolMessage(bufio.NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	ev, ok := m.(*godap.OutputEvent)
	if !ok {
		t.Fatalf("got %T, want an output event", m)
	}
	want := `warning: label \x1b]0;pwned\a and \x1b[2J\u202e` + "\nnext line\n"
	if ev.Body.Output != want {
		t.Errorf("output %q, want %q", ev.Body.Output, want)
	}
}
