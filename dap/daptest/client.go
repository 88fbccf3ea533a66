// Package daptest is a Debug Adapter Protocol client for tests: go-dap's codec on any
// connection (a pipe to an in-process server, a child's stdin/stdout, a TCP socket). It
// checks nothing about gorigin; it only speaks the protocol and fails the test when the
// other side does not answer.
package daptest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	godap "github.com/google/go-dap"
)

// Client is a DAP client for tests.
type Client struct {
	T    testing.TB
	conn io.ReadWriter
	r    *bufio.Reader
	seq  int
	// Events are those received while waiting for something else, in order.
	Events []godap.Message
	// Timeout bounds every read and write (default 30 s).
	Timeout time.Duration
}

// New is a client on conn. When conn has deadlines (a net.Conn) every read and write is
// bounded by Timeout.
func New(t testing.TB, conn io.ReadWriter) *Client {
	return &Client{T: t, conn: conn, r: bufio.NewReader(conn), Timeout: 30 * time.Second}
}

type deadliner interface {
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// Send writes one request with the given arguments.
func (c *Client) Send(command string, args any) int {
	c.T.Helper()
	c.seq++
	m := map[string]any{"seq": c.seq, "type": "request", "command": command}
	if args != nil {
		m["arguments"] = args
	}
	b, err := json.Marshal(m)
	if err != nil {
		c.T.Fatal(err)
	}
	c.Raw(fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(b), b))
	return c.seq
}

// Raw writes bytes as they are, framing or not.
func (c *Client) Raw(s string) {
	c.T.Helper()
	if d, ok := c.conn.(deadliner); ok {
		d.SetWriteDeadline(time.Now().Add(c.Timeout))
	}
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.T.Fatalf("write to the adapter: %v", err)
	}
}

// Next reads the next message.
func (c *Client) Next() godap.Message {
	c.T.Helper()
	if d, ok := c.conn.(deadliner); ok {
		d.SetReadDeadline(time.Now().Add(c.Timeout))
	}
	m, err := godap.ReadProtocolMessage(c.r)
	if err != nil {
		c.T.Fatalf("read from the adapter: %v", err)
	}
	return m
}

// Response reads until the response to request seq, keeping events; it fails on an
// error response unless wantErr.
func (c *Client) Response(seq int) godap.ResponseMessage {
	c.T.Helper()
	for {
		m := c.Next()
		r, ok := m.(godap.ResponseMessage)
		if !ok {
			c.Events = append(c.Events, m)
			continue
		}
		if r.GetResponse().RequestSeq != seq {
			c.T.Fatalf("response to request %d while waiting for %d: %#v", r.GetResponse().RequestSeq, seq, m)
		}
		if er, bad := m.(*godap.ErrorResponse); bad {
			c.T.Fatalf("%s failed: %s", er.Command, er.Message)
		}
		return r
	}
}

// ErrorResponse reads until the response to seq and requires an error response.
func (c *Client) ErrorResponse(seq int) *godap.ErrorResponse {
	c.T.Helper()
	for {
		m := c.Next()
		r, ok := m.(godap.ResponseMessage)
		if !ok {
			c.Events = append(c.Events, m)
			continue
		}
		er, bad := m.(*godap.ErrorResponse)
		if !bad {
			c.T.Fatalf("want an error response to request %d, got %#v", seq, m)
		}
		if r.GetResponse().RequestSeq != seq {
			c.T.Fatalf("error response to request %d while waiting for %d: %s", r.GetResponse().RequestSeq, seq, er.Message)
		}
		return er
	}
}

// Event reads until an event of that name (events already received count).
func (c *Client) Event(name string) godap.Message {
	c.T.Helper()
	for i, m := range c.Events {
		if e, ok := m.(godap.EventMessage); ok && e.GetEvent().Event == name {
			c.Events = append(c.Events[:i:i], c.Events[i+1:]...)
			return m
		}
	}
	for {
		m := c.Next()
		if e, ok := m.(godap.EventMessage); ok && e.GetEvent().Event == name {
			return m
		}
		c.Events = append(c.Events, m)
	}
}

// Call sends a request and returns its response.
func (c *Client) Call(command string, args any) godap.ResponseMessage {
	c.T.Helper()
	return c.Response(c.Send(command, args))
}

// Handshake is initialize, attach or launch, initialized, configurationDone and the
// stopped event that shows the first snapshot.
func (c *Client) Handshake(command string, args any) *godap.StoppedEvent {
	c.T.Helper()
	c.Call("initialize", map[string]any{"adapterID": "gorigin", "linesStartAt1": true, "columnsStartAt1": true, "supportsProgressReporting": true, "supportsVariablePaging": true})
	c.Call(command, args)
	c.Event("initialized")
	c.Call("configurationDone", nil)
	return c.Event("stopped").(*godap.StoppedEvent)
}

// Threads is the threads request's answer.
func (c *Client) Threads() []godap.Thread {
	c.T.Helper()
	return c.Call("threads", nil).(*godap.ThreadsResponse).Body.Threads
}

// StackTrace is the whole stack of a thread.
func (c *Client) StackTrace(thread int) []godap.StackFrame {
	c.T.Helper()
	return c.Call("stackTrace", map[string]any{"threadId": thread}).(*godap.StackTraceResponse).Body.StackFrames
}

// Scopes are a frame's scopes.
func (c *Client) Scopes(frame int) []godap.Scope {
	c.T.Helper()
	return c.Call("scopes", map[string]any{"frameId": frame}).(*godap.ScopesResponse).Body.Scopes
}

// Variables expands a reference; extra adds arguments (filter, start, count).
func (c *Client) Variables(ref int, extra map[string]any) []godap.Variable {
	c.T.Helper()
	args := map[string]any{"variablesReference": ref}
	for k, v := range extra {
		args[k] = v
	}
	return c.Call("variables", args).(*godap.VariablesResponse).Body.Variables
}

// AllIndexed pages through an indexed variable n at a time, as an IDE does.
func (c *Client) AllIndexed(ref, total, n int) []godap.Variable {
	c.T.Helper()
	var out []godap.Variable
	for start := 0; start < total; start += n {
		out = append(out, c.Variables(ref, map[string]any{"filter": "indexed", "start": start, "count": n})...)
	}
	return out
}

// Evaluate runs a REPL command.
func (c *Client) Evaluate(expr string) godap.EvaluateResponseBody {
	c.T.Helper()
	return c.Call("evaluate", map[string]any{"expression": expr, "context": "repl"}).(*godap.EvaluateResponse).Body
}

// Find is the variable of that name, or fails the test.
func Find(t testing.TB, vars []godap.Variable, name string) godap.Variable {
	t.Helper()
	for _, v := range vars {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no variable %q in %+v", name, vars)
	return godap.Variable{}
}

// Close closes the connection when it can be closed.
func (c *Client) Close() {
	if cl, ok := c.conn.(io.Closer); ok {
		cl.Close()
	}
}
