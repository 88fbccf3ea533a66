package mi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Client is a running GDB speaking MI. Commands run one at a time; async records go to
// the OnAsync callback. When GDB exits every pending and later call fails at once.
type Client struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu   sync.Mutex // serialises commands
	next int64
	// silent is set when GDB did not answer a command in time: it is not asked again
	// (a GDB that hangs once, or prints garbage instead of answers, is not trusted).
	silent  error
	pending chan reply // the one command in flight answers here
	// inflight is the token of the command in flight (0: none). Only its answer goes to
	// pending: an unasked or late answer sitting in pending would make the real one drop.
	inflight atomic.Int64

	console strings.Builder // stream output of the command in flight (guarded by smu)
	smu     sync.Mutex

	dead    chan struct{} // closed when GDB's output ends
	deadErr error         // why (set before dead is closed)
	stderr  *tailBuffer
	onAsync func(Record)
	odd     []string // lines that were not MI, kept for error messages (guarded by smu)
}

type reply struct {
	rec Record
}

// Options configure a GDB child.
type Options struct {
	// Path is the gdb executable ("gdb": looked up on PATH).
	Path string
	// Args are extra arguments after gorigin's own (-nx -q --interpreter=mi3 ...).
	Args []string
	// OnAsync is called, on the reader goroutine, for every async record (*stopped,
	// =thread-created, ...). It must not call the Client.
	OnAsync func(Record)
}

// MaxLine bounds one line of GDB output: a memory read of 4 MiB is 8 MiB of hex.
const MaxLine = 64 << 20

// ErrDead is wrapped by every error of a call to a GDB that exited.
var ErrDead = errors.New("gdb exited")

// ErrTimeout is wrapped by the error of a call GDB did not answer in time.
var ErrTimeout = errors.New("gdb did not answer in time")

// BaseArgs start GDB in MI mode without reading any init file, and without loading any
// script from the files it opens: a target binary is untrusted input and may embed
// .debug_gdb_scripts.
var BaseArgs = []string{
	"--interpreter=mi3", "-nx", "-q",
	"-iex", "set auto-load no",
	"-iex", "set auto-load safe-path /nonexistent",
	"-iex", "set debuginfod enabled off",
	"-iex", "set pagination off",
	"-iex", "set width 0",
	"-iex", "set height 0",
	"-iex", "set confirm off",
	"-iex", "set auto-solib-add off",
}

// Start starts GDB. GDB runs in its own process group (a ^C at the terminal does not reach
// it) and is killed by the kernel if this program dies, which detaches everything it traces.
func Start(opt Options) (*Client, error) {
	path := opt.Path
	if path == "" {
		path = "gdb"
	}
	full, err := exec.LookPath(path)
	if err != nil {
		return nil, fmt.Errorf("the gdb backend needs gdb: install it (apt-get install gdb) or use --backend native: %w", err)
	}
	cmd := exec.Command(full, append(append([]string{}, BaseArgs...), opt.Args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TERM=dumb")
	c := &Client{cmd: cmd, dead: make(chan struct{}), stderr: &tailBuffer{max: 8 << 10}, onAsync: opt.OnAsync,
		pending: make(chan reply, 1)}
	cmd.Stderr = c.stderr
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("start gdb: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start gdb: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start gdb: %w", err)
	}
	go c.read(out)
	return c, nil
}

// Pid is GDB's process id.
func (c *Client) Pid() int { return c.cmd.Process.Pid }

// Dead is closed when GDB has exited (its output ended).
func (c *Client) Dead() <-chan struct{} { return c.dead }

// Err says why GDB died, once Dead is closed (nil before).
func (c *Client) Err() error {
	select {
	case <-c.dead:
		return c.deadErr
	default:
		return nil
	}
}

// read dispatches GDB's output until it ends.
func (c *Client) read(out io.Reader) {
	r := bufio.NewReaderSize(out, 1<<20)
	var err error
	for {
		var line []byte
		line, err = readLine(r)
		if err != nil {
			break
		}
		c.handle(string(line))
	}
	werr := c.cmd.Wait()
	msg := "gdb exited"
	if werr != nil {
		msg = fmt.Sprintf("gdb exited (%v)", werr)
	}
	if !errors.Is(err, io.EOF) {
		msg += fmt.Sprintf(" after a read error (%v)", err)
	}
	if tail := strings.TrimSpace(c.stderr.String()); tail != "" {
		msg += ": " + tail
	}
	c.deadErr = fmt.Errorf("%s: %w", msg, ErrDead)
	close(c.dead)
}

// readLine reads one line without its newline, failing on lines longer than MaxLine.
func readLine(r *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		part, err := r.ReadSlice('\n')
		if len(buf)+len(part) > MaxLine {
			return nil, fmt.Errorf("gdb printed a line longer than %d bytes", MaxLine)
		}
		if err == bufio.ErrBufferFull {
			buf = append(buf, part...)
			continue
		}
		if err != nil {
			if len(buf)+len(part) > 0 && err == io.EOF {
				return append(buf, part...), nil
			}
			return nil, err
		}
		if buf == nil {
			return bytes.TrimSuffix(part, []byte("\n")), nil
		}
		return bytes.TrimSuffix(append(buf, part...), []byte("\n")), nil
	}
}

func (c *Client) handle(line string) {
	rec, err := Parse(line)
	if err != nil {
		// GDB and the target print raw text at times (warnings on stderr-turned-stdout,
		// the inferior's own output): keep a little of it for error messages.
		c.smu.Lock()
		if len(c.odd) < 16 {
			c.odd = append(c.odd, truncate(line, 200))
		}
		c.smu.Unlock()
		return
	}
	switch rec.Kind {
	case KindResult:
		if rec.Token != c.inflight.Load() {
			return // an answer to a call that timed out, or an unasked one
		}
		select {
		case c.pending <- reply{rec}:
		default: // an answer to a call that timed out, or an unasked one: drop it
		}
	case KindConsole, KindLog, KindTarget:
		c.smu.Lock()
		if c.console.Len() < 1<<20 {
			c.console.WriteString(rec.Text)
		}
		c.smu.Unlock()
	case KindExec, KindNotify, KindStatus:
		if c.onAsync != nil {
			c.onAsync(rec)
		}
	}
}

// Error is GDB's ^error answer to a command.
type Error struct {
	Command string
	Msg     string
}

func (e *Error) Error() string { return fmt.Sprintf("gdb: %s: %s", e.Command, e.Msg) }

// Run sends one MI command (without a token: Run adds it) and waits for its result record
// up to timeout. It returns the result record and the console output printed meanwhile.
// An ^error answer is an *Error.
func (c *Client) Run(ctx context.Context, timeout time.Duration, command string) (Record, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.dead:
		return Record{}, "", fmt.Errorf("%s: %w", command, c.deadErr)
	default:
	}
	if c.silent != nil {
		return Record{}, "", fmt.Errorf("%s: not sent: %w", command, c.silent)
	}
	c.next++
	tok := c.next
	c.inflight.Store(tok)
	defer c.inflight.Store(0)
	// Forget answers to earlier calls that timed out.
	for len(c.pending) > 0 {
		<-c.pending
	}
	c.smu.Lock()
	c.console.Reset()
	c.smu.Unlock()
	if _, err := fmt.Fprintf(c.stdin, "%d%s\n", tok, command); err != nil {
		<-c.deadOrSoon()
		if c.isDead() {
			return Record{}, "", fmt.Errorf("%s: %w", command, c.deadErr)
		}
		return Record{}, "", fmt.Errorf("%s: write to gdb: %w", command, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case r := <-c.pending:
			if r.rec.Token != tok {
				continue // a late answer to an earlier call
			}
			c.smu.Lock()
			out := c.console.String()
			c.smu.Unlock()
			if r.rec.Class == "error" {
				return r.rec, out, &Error{Command: command, Msg: r.rec.Results.String("msg")}
			}
			return r.rec, out, nil
		case <-c.dead:
			return Record{}, "", fmt.Errorf("%s: %w", command, c.deadErr)
		case <-timer.C:
			err := fmt.Errorf("%s: %w (waited %v)%s", command, ErrTimeout, timeout, c.OddNote())
			c.silent = err
			return Record{}, "", err
		case <-ctx.Done():
			return Record{}, "", fmt.Errorf("%s: %w", command, ctx.Err())
		}
	}
}

func (c *Client) isDead() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

// deadOrSoon waits a moment for GDB's exit to be noticed after a failed write.
func (c *Client) deadOrSoon() <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		select {
		case <-c.dead:
		case <-time.After(time.Second):
		}
		close(ch)
	}()
	return ch
}

// OddNote quotes what GDB printed that was not MI, for an error message.
func (c *Client) OddNote() string {
	odd := c.Odd()
	if len(odd) == 0 {
		return ""
	}
	return fmt.Sprintf("; gdb printed %d line(s) that are not GDB/MI, e.g. %q", len(odd), odd[len(odd)-1])
}

// Odd returns the lines GDB printed that were not MI records (at most a few).
func (c *Client) Odd() []string {
	c.smu.Lock()
	defer c.smu.Unlock()
	return append([]string(nil), c.odd...)
}

// Close asks GDB to exit and kills it if it has not within grace. It is safe to call more
// than once.
func (c *Client) Close(grace time.Duration) error {
	if !c.isDead() {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		c.Run(ctx, grace, "-gdb-exit")
		cancel()
		c.stdin.Close()
		select {
		case <-c.dead:
		case <-time.After(grace):
			c.Kill()
			<-c.dead
		}
	}
	return nil
}

// Kill kills GDB (and with it, by the kernel, every ptrace attachment it holds).
func (c *Client) Kill() {
	if c.cmd.Process != nil {
		// GDB leads its own process group: kill the group, so that nothing GDB started
		// keeps its output pipe open.
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		c.cmd.Process.Signal(syscall.SIGKILL)
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
