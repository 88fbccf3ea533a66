package gdbmi

import (
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"syscall"
)

// A guard lets the target go if this program dies while GDB holds it stopped.
//
// GDB dies with this program (PR_SET_PDEATHSIG) and the kernel then detaches every thread
// it traced. But GDB stops threads with SIGSTOP: a thread whose SIGSTOP was queued or
// just dequeued when GDB died takes it for real, and the whole process ends up stopped
// (state T) with no tracer. The guard is a small shell outside this program's process
// group, reading a pipe from it. When the pipe closes without a "done" line (this program
// died), it waits for GDB to let go of the target and sends it SIGCONT.
type guard struct {
	cmd *exec.Cmd
	w   io.WriteCloser
}

// guardScript: $1 is the target's pid.
const guardScript = `read line
[ "$line" = done ] && exit 0
i=0
while [ $i -lt 100 ] && ! grep -q '^TracerPid:[[:space:]]*0$' /proc/$1/status 2>/dev/null; do
	[ -e /proc/$1 ] || exit 0
	sleep 0.05; i=$((i+1))
done
kill -CONT $1 2>/dev/null
exit 0`

func startGuard(pid int) (*guard, error) {
	cmd := exec.Command("/bin/sh", "-c", guardScript, "gorigin-gdb-guard", strconv.Itoa(pid))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the guard that resumes the target if gorigin dies: %w", err)
	}
	return &guard{cmd: cmd, w: w}, nil
}

// release tells the guard that the target was detached properly, and reaps it.
func (g *guard) release() {
	if g == nil {
		return
	}
	io.WriteString(g.w, "done\n")
	g.w.Close()
	g.cmd.Wait()
}

// resume closes the pipe without "done": the guard resumes the target once GDB let go.
func (g *guard) resume() {
	if g == nil {
		return
	}
	g.w.Close()
	g.cmd.Wait()
}
