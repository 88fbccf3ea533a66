package delve

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/go-delve/delve/service/api"
	"github.com/go-delve/delve/service/rpc2"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/onsignal"
)

// SessionOptions tune a Session.
type SessionOptions struct {
	// Timeout bounds connecting and every request to dlv (0 = 30s).
	Timeout time.Duration
	// Guard is the command that runs the continue guard (guard.go): the executable and its
	// arguments, to which the dlv address is appended; it must call RunGuard with that
	// address and its stdin. gorigin's is its own executable with a hidden command. A
	// Session without one refuses to halt a running session.
	Guard []string
}

// Session is a process debugged by a running headless dlv, reached through its JSON-RPC
// API (api-version 2). gorigin is one more client of that dlv: it reads memory with
// ExamineMemory and never writes, sets breakpoints, detaches or kills.
//
// dlv serves memory only while the process is stopped. If the session is running when
// gorigin first reads, gorigin halts it (that is the freeze) and Thaw continues it; a
// session that was already halted (at a breakpoint, or just attached without --continue)
// is read as it is and left halted. Another client's pending continue returns when gorigin
// halts the process, as it would for a halt from any client. Before its first halt a
// Session starts a guard process (guard.go) that continues the session if gorigin dies
// while it owes a continue (SIGKILL, the OOM killer), and ends with the Session.
type Session struct {
	addr string
	opts SessionOptions
	conn net.Conn
	c    *rpc2.RPCClient
	pid  int

	mu         sync.Mutex
	halted     bool // gorigin halted a running session and owes it a continue
	guard      *continueGuard
	owed       bool // the guard was told a continue is owed, and not yet that it was paid
	wasHalted  bool // the session was halted by someone else when gorigin came
	start      time.Time
	lastFreeze time.Duration
	closed     bool
}

var _ dbg.Target = (*Session)(nil)

// ErrNotMulticlient is returned for a dlv started without --accept-multiclient: gorigin
// could not disconnect from it without ending the debug session.
var ErrNotMulticlient = dbg.NewInputError("dlv does not accept several clients")

// ErrNoDlv is returned when nothing that speaks dlv's API answers at the address.
var ErrNoDlv = dbg.NewInputError("no headless dlv answers")

// ErrOtherProcess is returned when dlv debugs another process than the one named.
var ErrOtherProcess = dbg.NewInputError("dlv debugs another process")

// Dial connects to the headless dlv listening at addr (HOST:PORT) that debugs pid. With pid
// 0 gorigin asks dlv which process it debugs; dlv answers only while halted, so a running
// session is halted for that question and continued at once (give the pid to avoid it).
// With a pid, the halt that starts the copy checks it.
func Dial(addr string, pid int, opts SessionOptions) (*Session, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	conn, err := net.DialTimeout("tcp", addr, opts.Timeout)
	if err != nil {
		return nil, fmt.Errorf("connect to dlv at %s: %v: %w: start one with dlv attach PID --headless --listen=%s --accept-multiclient --api-version=2",
			addr, err, ErrNoDlv, addr)
	}
	s := &Session{addr: addr, opts: opts, conn: conn}
	s.deadline()
	s.c = rpc2.NewClientFromConn(conn)
	var multi rpc2.IsMulticlientOut
	if err := s.c.CallAPI("IsMulticlient", rpc2.IsMulticlientIn{}, &multi); err != nil {
		conn.Close()
		return nil, fmt.Errorf("talk to dlv at %s: %v: %w (is it a dlv --headless --api-version=2?)", addr, err, ErrNoDlv)
	}
	if !multi.IsMulticlient {
		conn.Close()
		return nil, fmt.Errorf("dlv at %s: %w: restart it with --accept-multiclient, or gorigin's disconnect would end its session", addr, ErrNotMulticlient)
	}
	st, err := s.state()
	if err != nil {
		conn.Close()
		return nil, err
	}
	if st.Exited {
		conn.Close()
		return nil, dbg.Errorf(dbg.ErrExited, "dlv at %s: its process exited", addr)
	}
	s.wasHalted = !st.Running
	// dlv names its process only while halted.
	if pid == 0 && st.Running {
		if err := s.owe(); err != nil {
			s.endGuard()
			conn.Close()
			return nil, err
		}
		s.halted = true
		if err := s.halt(); err != nil {
			s.thawLocked()
			s.endGuard()
			conn.Close()
			return nil, err
		}
		err := s.askPid()
		if terr := s.thawLocked(); err == nil {
			err = terr
		}
		if err != nil {
			s.endGuard()
			conn.Close()
			return nil, err
		}
	} else if st.Running {
		s.pid = pid
	} else if err := s.askPid(); err != nil {
		conn.Close()
		return nil, err
	}
	if pid != 0 && s.pid != pid {
		s.endGuard()
		conn.Close()
		return nil, dbg.Errorf(ErrOtherProcess, "dlv at %s debugs pid %d, not %d", addr, s.pid, pid)
	}
	if _, err := os.Stat(s.Exe()); err != nil {
		s.Close()
		return nil, fmt.Errorf("dlv at %s debugs pid %d, which gorigin cannot see here (%v): run gorigin on the machine, and in the pid namespace, of the process: %w",
			addr, s.pid, err, dbg.ErrNoProcess)
	}
	s.noDeadline()
	onsignal.Register(s)
	return s, nil
}

func (s *Session) deadline()   { s.conn.SetDeadline(time.Now().Add(s.opts.Timeout)) }
func (s *Session) noDeadline() { s.conn.SetDeadline(time.Time{}) }

func (s *Session) state() (*api.DebuggerState, error) {
	var out rpc2.StateOut
	if err := s.c.CallAPI("State", rpc2.StateIn{NonBlocking: true}, &out); err != nil {
		return nil, fmt.Errorf("dlv at %s: ask for its state: %w", s.addr, err)
	}
	if out.State == nil {
		return nil, fmt.Errorf("dlv at %s: no state in its answer", s.addr)
	}
	return out.State, nil
}

// Pid is the process id dlv debugs.
func (s *Session) Pid() int { return s.pid }

// Exe is /proc/PID/exe: gorigin reads the executable itself.
func (s *Session) Exe() string { return fmt.Sprintf("/proc/%d/exe", s.pid) }

// Mappings parses /proc/PID/maps.
func (s *Session) Mappings() ([]dbg.Mapping, error) { return readMappings(s.pid) }

// WasHalted reports whether the session was already halted when gorigin connected (and so
// gorigin stopped nothing and will not continue it).
func (s *Session) WasHalted() bool { return s.wasHalted }

// LastFreeze is how long gorigin kept a running session halted: from the halt request to
// dlv's answer that the process runs again. Zero when gorigin halted nothing.
func (s *Session) LastFreeze() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastFreeze
}

// Freeze halts the session if it runs. ReadBatch does the same: dlv reads nothing while
// the process runs.
func (s *Session) Freeze() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.haltLocked()
}

func (s *Session) haltLocked() error {
	if s.closed {
		return fmt.Errorf("dlv at %s: session closed", s.addr)
	}
	if s.halted || s.wasHalted {
		return nil
	}
	if err := s.owe(); err != nil {
		return err
	}
	s.halted = true // from here on, a continue is owed even if the answer is lost
	if err := s.halt(); err != nil {
		return err
	}
	want := s.pid
	if err := s.askPid(); err != nil {
		return err
	}
	if s.pid != want {
		return dbg.Errorf(ErrOtherProcess, "dlv at %s now debugs pid %d, not %d", s.addr, s.pid, want)
	}
	return nil
}

// halt stops a running session (the caller has set s.halted).
func (s *Session) halt() error {
	s.deadline()
	defer s.noDeadline()
	s.start = time.Now()
	var out rpc2.CommandOut
	if err := s.c.CallAPI("Command", api.DebuggerCommand{Name: api.Halt}, &out); err != nil {
		return fmt.Errorf("dlv at %s: halt pid %d: %w", s.addr, s.pid, err)
	}
	if out.State.Exited {
		return dbg.Errorf(dbg.ErrExited, "dlv at %s: its process exited", s.addr)
	}
	return nil
}

// askPid sets s.pid from dlv; the session must be halted.
func (s *Session) askPid() error {
	s.deadline()
	defer s.noDeadline()
	var out rpc2.ProcessPidOut
	if err := s.c.CallAPI("ProcessPid", rpc2.ProcessPidIn{}, &out); err != nil {
		return fmt.Errorf("dlv at %s: ask for its process id: %w", s.addr, err)
	}
	s.pid = out.Pid
	return nil
}

// examineLimit is the most bytes dlv returns per ExamineMemory request.
const examineLimit = rpc2.ExamineMemoryLengthLimit

// readers is how many requests are in flight at once: dlv answers them one after the other,
// but pipelining hides the round trips.
const readers = 8

// ReadBatch reads through dlv's ExamineMemory, halting a running session first, in pieces
// of at most 64 KiB, several requests in flight.
func (s *Session) ReadBatch(regions []dbg.Region) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.haltLocked(); err != nil {
		return err
	}
	type piece struct {
		region int
		addr   uint64
		buf    []byte
	}
	var pieces []piece
	for i, r := range regions {
		for off := 0; off < len(r.Buf); off += examineLimit {
			end := min(off+examineLimit, len(r.Buf))
			pieces = append(pieces, piece{i, r.Addr + uint64(off), r.Buf[off:end]})
		}
	}
	s.deadline()
	defer s.noDeadline()
	errs := make([]error, len(regions))
	var emu sync.Mutex
	var fatal error
	work := make(chan piece)
	var wg sync.WaitGroup
	for range min(readers, len(pieces)) {
		wg.Go(func() {
			for p := range work {
				var out rpc2.ExaminedMemoryOut
				err := s.c.CallAPI("ExamineMemory", rpc2.ExamineMemoryIn{Address: p.addr, Length: len(p.buf)}, &out)
				if err == nil && len(out.Mem) != len(p.buf) {
					err = shortRead{addr: p.addr, n: len(out.Mem), want: len(p.buf)}
				}
				emu.Lock()
				if err != nil && errs[p.region] == nil {
					errs[p.region] = err
				}
				var ne net.Error
				if err != nil && (errors.As(err, &ne) || errors.Is(err, net.ErrClosed)) && fatal == nil {
					fatal = err
				}
				emu.Unlock()
				copy(p.buf, out.Mem)
			}
		})
	}
	for _, p := range pieces {
		work <- p
	}
	close(work)
	wg.Wait()
	if fatal != nil {
		return fmt.Errorf("dlv at %s: read memory: %w", s.addr, fatal)
	}
	var rerr *dbg.ReadError
	for i, err := range errs {
		if err == nil {
			continue
		}
		if rerr == nil {
			rerr = &dbg.ReadError{Err: fmt.Errorf("dlv at %s: %w", s.addr, err)}
		}
		rerr.Failed = append(rerr.Failed, i)
	}
	if rerr != nil {
		return rerr
	}
	return nil
}

// Thaw continues the session if gorigin halted it, and waits until dlv reports it running.
func (s *Session) Thaw() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.thawLocked()
}

func (s *Session) thawLocked() error {
	if !s.halted {
		return nil
	}
	s.halted = false
	// A continue answers only when the process stops again: send it from a goroutine that
	// ends when the connection closes, and poll the state until it says running.
	sent := make(chan struct{})
	go func() {
		close(sent)
		var out rpc2.CommandOut
		s.c.CallAPI("Command", api.DebuggerCommand{Name: api.Continue}, &out)
	}()
	<-sent
	s.deadline()
	defer s.noDeadline()
	deadline := time.Now().Add(s.opts.Timeout)
	for {
		st, err := s.state()
		if err != nil {
			return fmt.Errorf("continue pid %d: %w", s.pid, err)
		}
		if st.Running || st.Exited {
			s.lastFreeze = time.Since(s.start)
			if s.guard != nil && s.owed {
				s.guard.say("paid")
				s.owed = false
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dlv at %s: pid %d was not running again %v after gorigin's continue", s.addr, s.pid, s.opts.Timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// Threads lists the threads dlv knows, with their PC while halted.
func (s *Session) Threads() ([]dbg.Thread, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadline()
	defer s.noDeadline()
	var out rpc2.ListThreadsOut
	if err := s.c.CallAPI("ListThreads", rpc2.ListThreadsIn{}, &out); err != nil {
		return nil, fmt.Errorf("dlv at %s: list threads: %w", s.addr, err)
	}
	var ts []dbg.Thread
	for _, th := range out.Threads {
		ts = append(ts, dbg.Thread{TID: th.ID, PC: th.PC})
	}
	return ts, nil
}

// Client is the underlying Delve client, for callers that want Delve's own answers (its
// goroutine list, say) from the same session.
func (s *Session) Client() *rpc2.RPCClient { return s.c }

// Close continues the session if gorigin halted it and disconnects without detaching:
// dlv keeps the process and serves its other clients. It is idempotent.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	err := s.thawLocked()
	s.closed = true
	s.c.Disconnect(false)
	s.endGuard()
	onsignal.Unregister(s)
	return err
}

// owe starts the continue guard (guard.go) on the first halt and tells it that a continue
// is owed from now on. gorigin does not halt without a guard.
func (s *Session) owe() error {
	if s.guard == nil {
		g, err := startGuard(s.opts.Guard, s.addr)
		if err != nil {
			return fmt.Errorf("dlv at %s: not halting pid %d: %w", s.addr, s.pid, err)
		}
		s.guard = g
	}
	if err := s.guard.say("owe"); err != nil {
		return fmt.Errorf("dlv at %s: not halting pid %d: the guard that continues the session if gorigin dies is gone: %w", s.addr, s.pid, err)
	}
	s.owed = true
	return nil
}

// endGuard lets the guard go: done if the session runs again, or, while a continue is
// still owed (gorigin's own continue failed), closing its pipe so that it tries.
func (s *Session) endGuard() {
	g := s.guard
	if g == nil {
		return
	}
	s.guard = nil
	if !s.owed {
		g.release()
		return
	}
	g.w.Close()
	g.cmd.Wait()
}
