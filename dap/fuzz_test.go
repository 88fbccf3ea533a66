package dap

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

type rw struct {
	io.Reader
	io.Writer
}

func frame(body string) string { return fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body) }

// FuzzServe feeds arbitrary bytes to a session on a fake process: Serve returns, never
// panics, and no request reaches the recover that reports internal errors.
func FuzzServe(f *testing.F) {
	session := frame(`{"seq":1,"type":"request","command":"initialize","arguments":{"adapterID":"x","supportsProgressReporting":true}}`) +
		frame(`{"seq":2,"type":"request","command":"attach","arguments":{"processId":4242}}`) +
		frame(`{"seq":3,"type":"request","command":"configurationDone"}`) +
		frame(`{"seq":4,"type":"request","command":"threads"}`) +
		frame(`{"seq":5,"type":"request","command":"stackTrace","arguments":{"threadId":1,"startFrame":1,"levels":2}}`) +
		frame(`{"seq":6,"type":"request","command":"scopes","arguments":{"frameId":1}}`) +
		frame(`{"seq":7,"type":"request","command":"variables","arguments":{"variablesReference":3,"filter":"indexed","start":-4,"count":99}}`) +
		frame(`{"seq":8,"type":"request","command":"evaluate","arguments":{"expression":"goroutine 100"}}`) +
		frame(`{"seq":9,"type":"request","command":"evaluate","arguments":{"expression":"refresh"}}`) +
		frame(`{"seq":10,"type":"request","command":"evaluate","arguments":{"expression":"diff"}}`) +
		frame(`{"seq":11,"type":"request","command":"disconnect"}`)
	f.Add([]byte(session))
	f.Add([]byte(strings.ReplaceAll(session, `"processId":4242`, `"processId":4242,"groupThreshold":1`)))
	f.Add([]byte(frame(`{"seq":1,"type":"request","command":"variables","arguments":{"variablesReference":1}}`)))
	f.Add([]byte("Content-Length: 3\r\n\r\n{}}"))
	p := newFakeProcess(f, 150)
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		done := make(chan error, 1)
		go func() { done <- Serve(context.Background(), rw{bytes.NewReader(in), &out}, p.sources()) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatalf("Serve did not return at the end of its input %q", in)
		}
		if bytes.Contains(out.Bytes(), []byte("internal error in gorigin dap")) {
			t.Fatalf("a request panicked:\n%s", out.Bytes())
		}
	})
}
