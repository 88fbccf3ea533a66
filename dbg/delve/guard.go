package delve

import (
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"syscall"
)

// A guard lets the target go if gorigin dies while Delve holds it stopped.
//
// When a tracer dies the kernel detaches every thread it traced. But Delve attaches with
// PTRACE_ATTACH, which stops threads with SIGSTOP: a thread whose SIGSTOP was queued or
// just dequeued when gorigin died takes it for real, and the whole process ends up stopped
// (state T) with no tracer. The guard is a small shell outside gorigin's process group,
// reading a pipe from it; when the pipe closes without a "done" line (gorigin died) it
// waits for the target to be untraced and sends it SIGCONT. (The same idea as the GDB
// backend's guard, dbg/gdbmi/guard.go.)
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
	cmd := exec.Command("/bin/sh", "-c", guardScript, "gorigin-delve-guard", strconv.Itoa(pid))
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

// resume closes the pipe without "done": the guard resumes the target once it is untraced.
func (g *guard) resume() {
	if g == nil {
		return
	}
	g.w.Close()
	g.cmd.Wait()
}
