package delve

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/procfs"
)

// checkProcess says why pid cannot be attached, or nil: it must exist, be a process (not a
// thread), not be gorigin itself, and not be traced already.
func checkProcess(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("no process with pid %d: %w", pid, dbg.ErrNoProcess)
	}
	if pid == os.Getpid() {
		return fmt.Errorf("attach %d: that is gorigin itself; a process cannot trace itself", pid)
	}
	st, err := procfs.ReadStatus(pid)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no process with pid %d: %w", pid, dbg.ErrNoProcess)
		}
		return fmt.Errorf("attach %d: %w", pid, err)
	}
	switch {
	case st.Tgid != 0 && st.Tgid != pid:
		return fmt.Errorf("attach %d: that is a thread of process %d: attach %d instead", pid, st.Tgid, st.Tgid)
	case st.State == 'Z' || st.State == 'X':
		return dbg.Errorf(dbg.ErrExited, "attach %d: the process is a zombie (it exited and its parent has not reaped it)", pid)
	case st.TracerPid != 0:
		return fmt.Errorf("attach %d: %w: pid %d is already traced by pid %d (a debugger?): detach it first, or use --dlv HOST:PORT to go through the debugger that holds it",
			pid, dbg.ErrPermission, pid, st.TracerPid)
	}
	return nil
}

// traced reports whether some process traces pid.
func traced(pid int) bool {
	st, err := procfs.ReadStatus(pid)
	return err == nil && st.TracerPid != 0
}

// readMappings reads /proc/PID/maps, saying what to do when it may not.
func readMappings(pid int) ([]dbg.Mapping, error) {
	maps, err := procfs.Maps(pid)
	if errors.Is(err, fs.ErrPermission) {
		return nil, permissionError(pid)
	}
	return maps, err
}

func permissionError(pid int) error {
	return fmt.Errorf("attach %d: %w: %s", pid, dbg.ErrPermission, dbg.PtraceRemedy())
}
