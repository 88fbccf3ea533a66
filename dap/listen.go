package dap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	godap "github.com/google/go-dap"
	"github.com/gorigin-dev/gorigin/report"
)

// DefaultMaxConns is how many sessions a Listener serves at once unless told otherwise:
// an IDE opens one per debug session.
const DefaultMaxConns = 16

// A Listener serves DAP sessions on a socket to the users it allows, and keeps serving
// whatever its clients do: an accept error (too many open files) is retried with
// back-off, a client that completes no message for Idle is dropped, and connections
// beyond MaxConns are refused.
type Listener struct {
	// Allowed are the uids that may connect. A client whose uid the kernel cannot
	// name is refused, unless it is on another host and Remote is set.
	Allowed []int
	// Remote accepts TCP clients on other hosts (not in this host's socket table),
	// whose user nobody can know: --allow-remote.
	Remote bool
	// MaxConns bounds the sessions served at once (0: DefaultMaxConns); a client
	// beyond it is told so and disconnected.
	MaxConns int
	// Idle drops a connection that sends no complete message for this long, and one
	// that does not take gorigin's answers for this long (0: never).
	Idle time.Duration
	// Log gets one line per refusal, accept error and failed session.
	Log io.Writer
	// Sources opens snapshots for one client; Peer.MayRead checks the files it names.
	Sources func(Peer) Sources
}

// Serve accepts connections on ln until ctx is cancelled or ln is closed, and waits for
// the sessions it started. It returns only then: accept errors are logged and retried.
func (l *Listener) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	limit := l.MaxConns
	if limit <= 0 {
		limit = DefaultMaxConns
	}
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup
	defer wg.Wait()
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// EMFILE, ENFILE, ENOBUFS…: the connection waits in the backlog; try again
			// after a pause that doubles up to a second, as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.logf("accept: %v; retrying in %v", err, delay)
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			continue
		}
		delay = 0
		peer, err := peerOf(conn)
		if err != nil {
			l.refuse(conn, peer, fmt.Sprintf("cannot tell who connected: %v", err))
			continue
		}
		if !l.allows(peer) {
			l.refuse(conn, peer, fmt.Sprintf("uid %d may not use this gorigin dap, which serves uid %s only (it reads any process its user may ptrace); start your own, or use gorigin dap on stdin/stdout", peer.UID, uidList(l.Allowed)))
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			l.refuse(conn, peer, fmt.Sprintf("%d sessions are open already (--max-connections %d); close one and connect again", limit, limit))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			defer conn.Close()
			var src Sources
			if l.Sources != nil {
				src = l.Sources(peer)
			}
			if err := serve(ctx, conn, src, l.Idle); err != nil {
				l.logf("%s: %v", peer.Addr, err)
			}
		}()
	}
}

// allows says whether peer may have a session.
func (l *Listener) allows(peer Peer) bool {
	if peer.UID < 0 {
		return l.Remote
	}
	return slices.Contains(l.Allowed, peer.UID)
}

// refuseWithin bounds the one write that tells a refused client why.
const refuseWithin = time.Second

// refuse logs why conn is refused, tells the client in an output event and closes it.
// The write goes into the empty buffer of a new socket; its deadline keeps a client
// that never reads from holding the accept loop.
func (l *Listener) refuse(conn net.Conn, peer Peer, why string) {
	l.logf("refused %s: %s", peer.Addr, why)
	conn.SetWriteDeadline(time.Now().Add(refuseWithin))
	godap.WriteProtocolMessage(conn, &godap.OutputEvent{
		Event: godap.Event{ProtocolMessage: godap.ProtocolMessage{Seq: 1, Type: "event"}, Event: "output"},
		Body:  godap.OutputEventBody{Category: "important", Output: "gorigin dap: refused: " + why + "\n"},
	})
	conn.Close()
}

// logf writes one line to the log, its control characters escaped: what a client sent
// (a malformed message quoted in an error) must not reach a terminal raw.
func (l *Listener) logf(format string, args ...any) {
	if l.Log != nil {
		fmt.Fprintln(l.Log, "gorigin dap: "+report.Printable(fmt.Sprintf(format, args...)))
	}
}

func uidList(uids []int) string {
	s := ""
	for i, u := range uids {
		if i > 0 {
			s += " and "
		}
		s += fmt.Sprint(u)
	}
	return s
}
