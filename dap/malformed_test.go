package dap

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	godap "github.com/google/go-dap"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestBadRequestsGetErrorResponses: messages that keep the framing but are wrong get an
// error response to their seq, and the session goes on.
func TestBadRequestsGetErrorResponses(t *testing.T) {
	p := newFakeProcess(t, 3)
	c, done := startServer(t, p.sources())
	want := func(seq int, substr string) {
		t.Helper()
		er := c.ErrorResponse(seq)
		if !strings.Contains(er.Message, substr) || er.Body.Error == nil || er.Body.Error.Format == "" {
			t.Errorf("request %d: error %q (body %+v), want it to say %q", seq, er.Message, er.Body.Error, substr)
		}
	}
	// Out of order: before initialize, before attach.
	want(c.Send("threads", nil), "initialize first")
	c.Call("initialize", map[string]any{"adapterID": "x"})
	want(c.Send("initialize", map[string]any{"adapterID": "x"}), "already")
	want(c.Send("threads", nil), "attach")
	want(c.Send("stackTrace", map[string]any{"threadId": 1}), "attach")
	want(c.Send("configurationDone", nil), "before attach")
	want(c.Send("evaluate", map[string]any{"expression": "groups"}), "attach")

	// Unknown and unsupported commands, malformed arguments, invalid JSON.
	want(c.Send("frobnicate", map[string]any{"x": 1}), `"frobnicate"`)
	want(c.Send("next", map[string]any{"threadId": 1}), "cannot step")
	want(c.Send("setVariable", map[string]any{"variablesReference": 1, "name": "x", "value": "1"}), "never writes")
	want(c.Send("stackTrace", map[string]any{"threadId": "one"}), "malformed arguments")
	body := `{"seq": 99, "type": "request", "command": `
	c.Raw("Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body)
	want(0, "not valid JSON")
	body = `{"seq": 100, "type": "bogus"}`
	c.Raw("Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body)
	want(100, "bogus")

	// Bad attach and launch arguments.
	want(c.Send("attach", map[string]any{}), "processId")
	want(c.Send("attach", map[string]any{"processId": "abc"}), "not a process id")
	want(c.Send("attach", map[string]any{"processId": 1}), "no such process")
	want(c.Send("attach", map[string]any{"processId": 4242, "freeze": "sometimes"}), "freeze")
	want(c.Send("attach", map[string]any{"processId": 4242, "backend": "lldb"}), "backend")
	want(c.Send("attach", map[string]any{"processId": 4242, "groupBy": "colour"}), "groupBy")
	want(c.Send("attach", map[string]any{"processId": 4242, "mode": "remote"}), "local")
	want(c.Send("launch", map[string]any{"program": "/bin/true"}), "does not start programs")
	want(c.Send("launch", map[string]any{"mode": "core", "coreFilePath": "/tmp/core"}), "not available in this build")
	want(c.Send("launch", map[string]any{"mode": "dump"}), "dumpPath")
	want(c.Send("launch", map[string]any{"mode": "exec"}), `"exec"`)

	// Breakpoints are answered, honestly unverified.
	bps := c.Call("setBreakpoints", map[string]any{"source": map[string]any{"path": "/x.go"}, "breakpoints": []map[string]any{{"line": 3}}}).(*godap.SetBreakpointsResponse)
	if len(bps.Body.Breakpoints) != 1 || bps.Body.Breakpoints[0].Verified {
		t.Errorf("setBreakpoints: %+v, want one unverified breakpoint", bps.Body.Breakpoints)
	}

	// The session still works; then bad references into it.
	c.Call("attach", map[string]any{"processId": 4242})
	c.Event("initialized")
	want(c.Send("attach", map[string]any{"processId": 4242}), "already shows pid 4242")
	want(c.Send("stackTrace", map[string]any{"threadId": 123456}), "no thread 123456")
	want(c.Send("scopes", map[string]any{"frameId": 77}), "no frame 77")
	want(c.Send("variables", map[string]any{"variablesReference": 5000}), "not from this snapshot")
	want(c.Send("evaluate", map[string]any{"expression": "x + 1", "context": "watch"}), "cannot evaluate Go expressions")
	want(c.Send("evaluate", map[string]any{"expression": "goroutine 424242"}), "no goroutine 424242")
	want(c.Send("evaluate", map[string]any{"expression": "goroutine 2"}), "runtime's own")
	want(c.Send("evaluate", map[string]any{"expression": "groups --by"}), "usage")
	if len(c.Threads()) != 6 {
		t.Error("the session does not show the process after the errors")
	}
	c.Call("terminate", nil)
	c.Event("terminated")
	c.Call("disconnect", map[string]any{"terminateDebuggee": true})
	if err := ended(t, done); err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestBrokenFramingEndsTheSession: input that loses the framing ends the session with an
// error from Serve (and an output event when the client can still read), never a panic
// or a hang; a client that goes away mid-message ends it quietly.
func TestBrokenFramingEndsTheSession(t *testing.T) {
	for _, tc := range []struct {
		name    string
		input   string
		wantErr string // "" wants Serve to return nil
	}{
		{"content length not a number", "Content-Length: abc\r\n\r\n{}", "malformed framing"},
		{"negative content length", "Content-Length: -5\r\n\r\n{}", "malformed framing"},
		{"content length over the limit", "Content-Length: 999999999999\r\n\r\n{}", "malformed framing"},
		{"another header", "Content-Type: json\r\n\r\n{}", "malformed framing"},
		{"header delimiter", "Content-Length: 2\r\n\n{}", "malformed framing"},
		{"header that never ends", strings.Repeat("x", 5<<20), "header is over"},
		{"eof mid content", "Content-Length: 100\r\n\r\n{\"seq\":1,", ""},
		{"eof mid header", "Content-Len", ""},
		{"nothing", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			done := make(chan error, 1)
			go func() { done <- Serve(context.Background(), b, Sources{}); b.Close() }()
			go func() {
				io.WriteString(a, tc.input)
				if tc.wantErr == "" {
					a.Close() // the client goes away
				}
			}()
			go io.Copy(io.Discard, a) // whatever the adapter says last
			select {
			case err := <-done:
				switch {
				case tc.wantErr == "" && err != nil:
					t.Errorf("Serve: %v, want nil", err)
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Errorf("Serve: %v, want an error saying %q", err, tc.wantErr)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Serve did not return")
			}
			a.Close()
		})
	}
}

// TestClientGoneMidAttach: a client that closes the connection while a snapshot is being
// read ends the session; the read is cancelled and Serve returns without error.
func TestClientGoneMidAttach(t *testing.T) {
	reading := make(chan struct{})
	cancelled := make(chan struct{})
	src := Sources{Live: func(int, string, string) (Source, error) {
		return func(ctx context.Context) (*snapshot.Snapshot, error) {
			close(reading)
			select {
			case <-ctx.Done():
				close(cancelled)
				return nil, ctx.Err()
			case <-time.After(20 * time.Second):
				return nil, errors.New("not cancelled")
			}
		}, nil
	}}
	c, done := startServer(t, src)
	c.Call("initialize", map[string]any{"adapterID": "x"})
	c.Send("attach", map[string]any{"processId": 1})
	<-reading
	c.Close()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the snapshot being read was not cancelled when the client went away")
	}
	if err := ended(t, done); err != nil {
		t.Errorf("Serve: %v", err)
	}
}
