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
//
// A debugger may also have written to the target's code (Delve's attach puts int3
// breakpoints into the runtime's crash functions): given the original code first
// (RestoreOnDeath), the guard writes it back through /proc/PID/mem once the target is
// untraced, before the SIGCONT.
package stopguard

import (
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// Guard watches one target.
type Guard struct {
	cmd *exec.Cmd
	w   io.WriteCloser
}

// script: $1 is the target's pid. Lines on stdin: "group N" (a debugger's process group to
// end if gorigin dies), "restore ADDR:CODE" (code to write back at decimal address ADDR,
// CODE in printf's octal escapes), "done" (all went well).
const script = `group=0
restore=
while read -r line; do
	case "$line" in
	done) exit 0 ;;
	"group "*) group=${line#group } ;;
	"restore "*) restore="$restore ${line#restore }" ;;
	esac
done
[ "$group" -gt 0 ] && kill -KILL -"$group" 2>/dev/null
i=0
while [ $i -lt 100 ] && ! grep -q '^TracerPid:[[:space:]]*0$' /proc/$1/status 2>/dev/null; do
	[ -e /proc/$1 ] || exit 0
	sleep 0.05; i=$((i+1))
done
for r in $restore; do
	printf "${r#*:}" | dd of=/proc/$1/mem bs=1 seek="${r%%:*}" conv=notrunc status=none 2>/dev/null
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

// RestoreOnDeath gives the guard code of the target as it must be (addr is a run-time
// address): if gorigin dies, the guard writes it back once the target is untraced. Give
// it before the debugger writes there.
func (g *Guard) RestoreOnDeath(addr uint64, code []byte) {
	if g == nil || len(code) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "restore %d:", addr)
	for _, c := range code {
		fmt.Fprintf(&b, "\\%03o", c)
	}
	b.WriteByte('\n')
	io.WriteString(g.w, b.String())
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
