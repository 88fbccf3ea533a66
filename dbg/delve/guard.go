package delve

// The continue guard: a headless dlv keeps a session halted until a client continues it,
// so if gorigin dies (SIGKILL, OOM killer) between halting a running session and
// continuing it, the debugged process would stay stopped for good. Before its first halt
// a Session starts a guard: the command SessionOptions.Guard names (gorigin's is its own
// executable run again with a hidden command that calls RunGuard), reading a pipe whose
// write end only gorigin holds. gorigin writes "owe" before each halt, "paid" once the session runs
// again and "done" when it closes. If the pipe ends while a continue is owed, gorigin is
// gone: the guard connects to dlv and continues the session if it is halted, then exits.
// A session that was halted when gorigin came is never halted by gorigin, so no guard
// ever continues it.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/go-delve/delve/service/api"
	"github.com/go-delve/delve/service/rpc2"
)

// guardName is the guard's argv[0], as ps shows it.
const guardName = "gorigin-dlv-guard"

// continueGuard is gorigin's end of a running guard.
type continueGuard struct {
	cmd *exec.Cmd
	w   io.WriteCloser
}

// startGuard starts a guard for the dlv at addr with the command argv (the address
// appended). Its stderr is gorigin's, so that what it does after gorigin died is seen where
// gorigin's output was.
func startGuard(argv []string, addr string) (*continueGuard, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("no guard to continue the dlv session if gorigin dies (SessionOptions.Guard)")
	}
	cmd := exec.Command(argv[0], append(argv[1:len(argv):len(argv)], addr)...)
	cmd.Args[0] = guardName
	cmd.Stderr = os.Stderr
	// Its own process group: a Ctrl-C meant for gorigin (which continues the session
	// itself) does not end the guard first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the guard that continues the dlv session if gorigin dies: %w", err)
	}
	return &continueGuard{cmd: cmd, w: w}, nil
}

// say sends one line; an error means the guard is gone, which the caller reports.
func (g *continueGuard) say(line string) error {
	_, err := io.WriteString(g.w, line+"\n")
	return err
}

// release tells the guard all went well and reaps it.
func (g *continueGuard) release() {
	g.say("done")
	g.w.Close()
	g.cmd.Wait()
}

// guardWatch is how long the guard watches the session after gorigin died: a halt
// request gorigin sent just before dying may still be on its way into dlv.
const guardWatch = time.Second

// RunGuard is the guard process of the dlv session at addr: it reads gorigin's pipe on in
// and returns its exit status. The command SessionOptions.Guard names calls it.
func RunGuard(addr string, in io.Reader, stderr io.Writer) int {
	owed := false
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		switch sc.Text() {
		case "owe":
			owed = true
		case "paid":
			owed = false
		case "done":
			return 0
		}
	}
	if !owed {
		return 0
	}
	continued, err := continueHalted(addr, guardWatch, 10*time.Second)
	if err != nil {
		fmt.Fprintf(stderr, "gorigin died holding the dlv session at %s halted, and its guard could not continue it: %v: continue it with dlv connect %s\n", addr, err, addr)
		return 1
	}
	if continued {
		fmt.Fprintf(stderr, "gorigin died holding the dlv session at %s halted: its guard continued it\n", addr)
	}
	return 0
}

// continueHalted watches the dlv at addr for watch and continues its process whenever it
// is halted, waiting until dlv reports it running. It reports whether it continued it.
func continueHalted(addr string, watch, timeout time.Duration) (bool, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout + watch))
	c := rpc2.NewClientFromConn(conn)
	state := func() (*api.DebuggerState, error) {
		var out rpc2.StateOut
		if err := c.CallAPI("State", rpc2.StateIn{NonBlocking: true}, &out); err != nil {
			return nil, err
		}
		if out.State == nil {
			return nil, fmt.Errorf("no state in dlv's answer")
		}
		return out.State, nil
	}
	continued := false
	end := time.Now().Add(watch)
	for time.Now().Before(end) {
		st, err := state()
		if err != nil {
			return continued, err
		}
		if st.Exited {
			return continued, nil
		}
		if !st.Running {
			// A continue answers only when the process stops again: send it without
			// waiting, and watch the state.
			go c.CallAPI("Command", api.DebuggerCommand{Name: api.Continue}, new(rpc2.CommandOut))
			deadline := time.Now().Add(timeout)
			for {
				st, err := state()
				if err != nil {
					return continued, err
				}
				if st.Running || st.Exited {
					break
				}
				if time.Now().After(deadline) {
					return continued, fmt.Errorf("not running %v after the continue", timeout)
				}
				time.Sleep(5 * time.Millisecond)
			}
			continued = true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return continued, nil
}
