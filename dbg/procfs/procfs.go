// Package procfs is the one reader of the Linux /proc files the live backends (dbg/native,
// dbg/gdbmi, dbg/delve) consult besides their debugger: a process's memory mappings, its
// status (state, thread group, tracer) and its threads. Errors say dbg.ErrExited when the
// process is gone and wrap the underlying error otherwise (fs.ErrPermission included), so
// that each backend adds its own remedy.
package procfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/gorigin-dev/gorigin/dbg"
)

// Status holds the few fields of /proc/PID/status that the backends check.
type Status struct {
	State     byte // 'R', 'S', 'T' (stopped by a signal), 't' (tracing stop), 'Z', 'X', ...
	Tgid      int  // the process a thread belongs to
	TracerPid int  // 0 when untraced
}

// ReadStatus reads /proc/PID/status.
func ReadStatus(pid int) (Status, error) {
	return readStatus(fmt.Sprintf("/proc/%d/status", pid))
}

// ReadTaskStatus reads /proc/PID/task/TID/status, the status of one thread.
func ReadTaskStatus(pid, tid int) (Status, error) {
	return readStatus(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
}

func readStatus(path string) (Status, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Status{}, err
	}
	return ParseStatus(data), nil
}

// ParseStatus parses the text of a status file; missing fields stay zero.
func ParseStatus(data []byte) Status {
	var st Status
	for line := range bytes.Lines(data) {
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		val = bytes.TrimSpace(val)
		switch string(key) {
		case "State":
			if len(val) > 0 {
				st.State = val[0]
			}
		case "Tgid":
			st.Tgid, _ = strconv.Atoi(string(val))
		case "TracerPid":
			st.TracerPid, _ = strconv.Atoi(string(val))
		}
	}
	return st
}

// JobStopped reports whether pid is stopped by a signal (State T: SIGSTOP, SIGTSTP …),
// not by a tracer (State t). A detach resumes such a process: the backends stop it again.
func JobStopped(pid int) bool {
	st, err := ReadStatus(pid)
	return err == nil && st.State == 'T'
}

// Dead reports whether pid has exited: /proc/PID is gone, or every thread of it is a
// zombie (it exited, and its parent or a tracer has not reaped it yet). A zombie main
// thread beside live threads (it called pthread_exit) is not a dead process; a failure to
// read a status other than its absence (a permission, say) is not taken for death.
func Dead(pid int) bool {
	st, err := ReadStatus(pid)
	if err != nil {
		return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
	}
	if st.State != 'Z' && st.State != 'X' {
		return false
	}
	tids, err := Tasks(pid)
	if err != nil {
		return errors.Is(err, dbg.ErrExited)
	}
	for _, tid := range tids {
		if st, err := ReadTaskStatus(pid, tid); err == nil && st.State != 'Z' && st.State != 'X' {
			return false
		}
	}
	return true
}

// Tasks returns the thread ids in /proc/PID/task, sorted.
func Tasks(pid int) ([]int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("pid %d: %w", pid, dbg.ErrExited)
		}
		return nil, fmt.Errorf("list threads of pid %d: %w", pid, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) { // it exited after the open
			return nil, fmt.Errorf("pid %d: %w", pid, dbg.ErrExited)
		}
		return nil, fmt.Errorf("list threads of pid %d: %w", pid, err)
	}
	tids := make([]int, 0, len(names))
	for _, name := range names {
		if tid, err := strconv.Atoi(name); err == nil {
			tids = append(tids, tid)
		}
	}
	if len(tids) == 0 {
		return nil, fmt.Errorf("pid %d has no threads left: %w", pid, dbg.ErrExited)
	}
	slices.Sort(tids)
	return tids, nil
}

// Maps reads and parses /proc/PID/maps.
func Maps(pid int) ([]dbg.Mapping, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read the mappings of pid %d: %w", pid, dbg.ErrExited)
		}
		return nil, fmt.Errorf("read the mappings of pid %d: %w", pid, err)
	}
	defer f.Close()
	maps, err := ParseMaps(f)
	if err != nil {
		return nil, fmt.Errorf("read the mappings of pid %d: %w", pid, err)
	}
	return maps, nil
}

// ParseMaps parses the text of /proc/PID/maps:
//
//	00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon
//
// The path is everything after the inode column and may contain spaces (and end in
// " (deleted)"). A line that does not parse is an error: the kernel writes none.
func ParseMaps(r io.Reader) ([]dbg.Mapping, error) {
	var maps []dbg.Mapping
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		m, ok := parseMapsLine(line)
		if !ok {
			return nil, fmt.Errorf("maps line %d: cannot parse %q", n, line)
		}
		maps = append(maps, m)
	}
	return maps, sc.Err()
}

func parseMapsLine(line string) (dbg.Mapping, bool) {
	var m dbg.Mapping
	fields := make([]string, 0, 5)
	rest := line
	for len(fields) < 5 {
		rest = strings.TrimLeft(rest, " ")
		f, r, _ := strings.Cut(rest, " ")
		if f == "" {
			return m, false
		}
		fields = append(fields, f)
		rest = r
	}
	lo, hi, ok := strings.Cut(fields[0], "-")
	if !ok {
		return m, false
	}
	var err1, err2, err3 error
	m.Start, err1 = strconv.ParseUint(lo, 16, 64)
	m.End, err2 = strconv.ParseUint(hi, 16, 64)
	m.Offset, err3 = strconv.ParseUint(fields[2], 16, 64)
	if err1 != nil || err2 != nil || err3 != nil || m.End < m.Start {
		return m, false
	}
	m.Perm = fields[1]
	m.Path = strings.TrimLeft(rest, " ")
	return m, true
}
