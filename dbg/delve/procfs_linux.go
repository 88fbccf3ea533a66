package delve

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/gorigin-dev/gorigin/dbg"
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
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no process with pid %d: %w", pid, dbg.ErrNoProcess)
		}
		return fmt.Errorf("attach %d: %w", pid, err)
	}
	state, tgid, tracer := statusFields(string(st))
	switch {
	case tgid != 0 && tgid != pid:
		return fmt.Errorf("attach %d: that is a thread of process %d: attach %d instead", pid, tgid, tgid)
	case state == 'Z' || state == 'X':
		return fmt.Errorf("attach %d: the process is a zombie (it exited and its parent has not reaped it): %w", pid, dbg.ErrExited)
	case tracer != 0:
		return fmt.Errorf("attach %d: %w: pid %d is already traced by pid %d (a debugger?): detach it first, or use --dlv HOST:PORT to go through the debugger that holds it",
			pid, dbg.ErrPermission, pid, tracer)
	}
	return nil
}

func statusFields(status string) (state byte, tgid, tracer int) {
	for _, line := range strings.Split(status, "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "State":
			if val != "" {
				state = val[0]
			}
		case "Tgid":
			tgid, _ = strconv.Atoi(val)
		case "TracerPid":
			tracer, _ = strconv.Atoi(val)
		}
	}
	return state, tgid, tracer
}

// traced reports whether some process traces pid.
func traced(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	_, _, tracer := statusFields(string(st))
	return tracer != 0
}

// jobStopped reports whether pid is stopped by a signal (State T: SIGSTOP, SIGTSTP …),
// not by a tracer (State t).
func jobStopped(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	state, _, _ := statusFields(string(st))
	return state == 'T'
}

// readMappings parses /proc/PID/maps.
func readMappings(pid int) ([]dbg.Mapping, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("read the mappings of pid %d: %w", pid, dbg.ErrExited)
		case errors.Is(err, fs.ErrPermission):
			return nil, permissionError(pid)
		}
		return nil, fmt.Errorf("read the mappings of pid %d: %w", pid, err)
	}
	defer f.Close()
	var maps []dbg.Mapping
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if m, ok := parseMapsLine(sc.Text()); ok {
			maps = append(maps, m)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the mappings of pid %d: %w", pid, err)
	}
	return maps, nil
}

// parseMapsLine parses "start-end perm offset dev inode [path]".
func parseMapsLine(line string) (dbg.Mapping, bool) {
	fields := strings.Fields(line)
	if len(fields) < 5 {
		return dbg.Mapping{}, false
	}
	lo, hi, ok := strings.Cut(fields[0], "-")
	if !ok {
		return dbg.Mapping{}, false
	}
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	off, err3 := strconv.ParseUint(fields[2], 16, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return dbg.Mapping{}, false
	}
	m := dbg.Mapping{Start: start, End: end, Offset: off, Perm: fields[1]}
	if len(fields) >= 6 {
		// The path may contain spaces: it is everything after the inode.
		_, rest, _ := strings.Cut(line, " "+fields[4]+" ")
		m.Path = strings.TrimSpace(rest)
	}
	return m, true
}

func permissionError(pid int) error {
	return fmt.Errorf("attach %d: %w: run as root or grant CAP_SYS_PTRACE (see /proc/sys/kernel/yama/ptrace_scope)", pid, dbg.ErrPermission)
}
