// Package dap is gorigin's Debug Adapter Protocol server: it lets an IDE (VS Code,
// nvim-dap, JetBrains, Emacs dap-mode) show every goroutine of a Go process, core or dump,
// grouped by the go statement that created it, as threads, stacks and variables.
//
// It is a viewer of snapshots, not a debugger: it never stops the target for longer than
// a snapshot takes, sets no breakpoints, and never writes to or kills the target.
// "Stopped" in the IDE means "showing a snapshot"; pause, continue and the REPL's refresh
// take a new one. Where snapshots come from is the caller's business (Sources); messages
// and framing are github.com/google/go-dap's.
package dap

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	godap "github.com/google/go-dap"
)

// maxMessage bounds one message's header and content. go-dap refuses content over 4 MiB
// itself; capReader also bounds a header that never ends.
const maxMessage = 4<<20 + 64<<10

// Serve runs one DAP session on conn until the client disconnects, the connection
// closes, ctx is cancelled, or the input is so malformed that framing is lost. Bad
// messages that keep the framing get an error response and the session goes on. Serve
// never kills or stops a target: live snapshots are taken and released per request.
func Serve(ctx context.Context, conn io.ReadWriter, src Sources) error {
	return serve(ctx, conn, src, 0)
}

// serve is Serve with an idle timeout for connections that have deadlines (a socket):
// each message must be complete within idle of the end of the one before, and each
// write of gorigin's must be taken within idle, or the connection is dropped.
func serve(ctx context.Context, conn io.ReadWriter, src Sources, idle time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dl, _ := conn.(deadliner)
	if idle <= 0 {
		dl = nil
	}
	var out io.Writer = conn
	if dl != nil {
		out = &timedWriter{conn: dl, w: conn, within: idle}
	}
	s := newSession(ctx, out, src)
	in := &capReader{r: conn}
	br := bufio.NewReader(in)

	requests := make(chan godap.Message, 16)
	readErr := make(chan error, 1)
	go func() {
		defer close(requests)
		for {
			in.reset()
			if dl != nil {
				dl.SetReadDeadline(time.Now().Add(idle))
			}
			content, err := godap.ReadBaseMessage(br)
			if err != nil {
				readErr <- err
				cancel() // a snapshot being read for a client that is gone can stop
				return
			}
			msg, err := godap.DecodeProtocolMessage(content)
			if err != nil {
				s.badMessage(content, err)
				continue
			}
			select {
			case requests <- msg:
			case <-ctx.Done():
				readErr <- ctx.Err()
				return
			}
		}
	}()

	var err error
	for msg := range requests {
		if s.handle(msg) {
			cancel() // the client said goodbye: stop reading
			break
		}
	}
	select {
	case err = <-readErr:
	default:
	}
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, context.Canceled), errors.Is(err, io.ErrClosedPipe):
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.output("important", fmt.Sprintf("gorigin dap: no complete message for %v (--idle-timeout); closing the connection\n", idle))
		return fmt.Errorf("dropped: no complete message for %v (--idle-timeout)", idle)
	case errors.Is(err, errTooLong):
		return fmt.Errorf("%w: a message header is over %d bytes: not a DAP client?", ErrMalformed, maxMessage)
	}
	var bpe *godap.BaseProtocolError
	if errors.As(err, &bpe) {
		s.output("stderr", "gorigin dap: malformed message framing ("+bpe.Err+"); closing the session\n")
		return fmt.Errorf("%w: malformed framing: %s", ErrMalformed, bpe.Err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return nil // the client went away mid-message
	}
	return fmt.Errorf("dap: read: %w", err)
}

var errTooLong = errors.New("message too long")

// deadliner is a connection with deadlines: a net.Conn.
type deadliner interface {
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// timedWriter gives each write to a connection a deadline, so a client that stops
// reading cannot hold a session (and the goroutines writing to it) forever.
type timedWriter struct {
	conn   deadliner
	w      io.Writer
	within time.Duration
}

func (t *timedWriter) Write(p []byte) (int, error) {
	t.conn.SetWriteDeadline(time.Now().Add(t.within))
	return t.w.Write(p)
}

// ErrMalformed is wrapped by Serve's error when the client's input lost the framing of
// the base protocol: bad input, not a failure of the adapter.
var ErrMalformed error = malformed("malformed DAP input")

// malformed is an error about the client's input: it has the method BadInput() bool that
// the command line's exit status reads (see dbg.BadInput).
type malformed string

func (e malformed) Error() string  { return string(e) }
func (e malformed) BadInput() bool { return true }

// capReader fails a read once more than maxMessage bytes were read since reset, so a
// header without an end cannot grow the reader's buffer without bound.
type capReader struct {
	r io.Reader
	n int
}

func (c *capReader) reset() { c.n = 0 }

func (c *capReader) Read(p []byte) (int, error) {
	if c.n >= maxMessage {
		return 0, errTooLong
	}
	if len(p) > maxMessage-c.n {
		p = p[:maxMessage-c.n]
	}
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// writer sends messages; events come from more than one goroutine.
type writer struct {
	mu  sync.Mutex
	w   io.Writer
	seq int
	err error
}

func (w *writer) send(m godap.Message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	w.seq++
	switch m := m.(type) {
	case godap.ResponseMessage:
		r := m.GetResponse()
		r.Seq, r.Type = w.seq, "response"
	case godap.EventMessage:
		e := m.GetEvent()
		e.Seq, e.Type = w.seq, "event"
	}
	w.err = godap.WriteProtocolMessage(w.w, m)
}
