// Package stopguard lets a target go if gorigin dies while a debugger it drives (GDB,
// Delve) holds the target stopped.
//
// When a tracer dies the kernel detaches every thread it traced. But GDB and Delve stop
// threads with SIGSTOP: a thread whose SIGSTOP was queued or just dequeued when the tracer
// died takes it for real, and the whole process ends up stopped (state T) with no tracer.
// A guard is a small shell outside gorigin's process group, reading a pipe from it. When
// the pipe closes without a "done" line (gorigin died), it waits until nothing traces the
// target and sends it SIGCONT. The native backend does not need one: PTRACE_SEIZE and
// PTRACE_INTERRUPT stop threads without SIGSTOP.
package stopguard

import (
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"syscall"
)

// Guard watches one target.
type Guard struct {
	cmd *exec.Cmd
	w   io.WriteCloser
}

// script: $1 is the target's pid. Lines on stdin: "group N" (a debugger's process group to
// end if gorigin dies), "done" (all went well).
const script = `group=0
while read line; do
	case "$line" in
	done) exit 0 ;;
	"group "*) group=${line#group } ;;
	esac
done
[ "$group" -gt 0 ] && kill -KILL -"$group" 2>/dev/null
i=0
while [ $i -lt 100 ] && ! grep -q '^TracerPid:[[:space:]]*0$' /proc/$1/status 2>/dev/null; do
	[ -e /proc/$1 ] || exit 0
	sleep 0.05; i=$((i+1))
done
kill -CONT $1 2>/dev/null
# Again, for a debugger's child forked while the first kill was on its way.
[ "$group" -gt 0 ] && sleep 0.2 && kill -KILL -"$group" 2>/dev/null
exit 0`

// Start starts a guard for pid; name names the guard process (as ps shows it).
func Start(pid int, name string) (*Guard, error) {
	cmd := exec.Command("/bin/sh", "-c", script, name, strconv.Itoa(pid))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the guard that resumes the target if gorigin dies: %w", err)
	}
	return &Guard{cmd: cmd, w: w}, nil
}

// EndGroupOnDeath names the process group of a debugger gorigin started (GDB runs in its
// own group): if gorigin dies, the guard ends that whole group. GDB dies with gorigin, but a
// child it forks while attaching (to probe ptrace features) stops itself with SIGSTOP and,
// orphaned, would stay stopped forever.
func (g *Guard) EndGroupOnDeath(pgid int) {
	if g == nil || pgid <= 0 {
		return
	}
	fmt.Fprintf(g.w, "group %d\n", pgid)
}

// Release tells the guard that the target was detached properly, and reaps it.
func (g *Guard) Release() {
	if g == nil {
		return
	}
	io.WriteString(g.w, "done\n")
	g.w.Close()
	g.cmd.Wait()
}

// Resume closes the pipe without "done": the guard resumes the target once it is untraced.
func (g *Guard) Resume() {
	if g == nil {
		return
	}
	g.w.Close()
	g.cmd.Wait()
}
