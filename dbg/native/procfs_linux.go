package native

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

	"github.com/gorigin-dev/gorigin/dbg"
)

// procStatus holds the few fields of /proc/PID/status that Attach and Freeze check.
type procStatus struct {
	State     byte // 'R', 'S', 'T', 't', 'Z', ...
	Tgid      int
	TracerPid int
}

// readStatus parses /proc/PID/status (or /proc/PID/task/TID/status when path says so).
func readStatus(path string) (procStatus, error) {
	var st procStatus
	data, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
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
	return st, nil
}

// listTasks returns the thread ids in /proc/PID/task, sorted.
func listTasks(pid int) ([]int, error) {
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

// threadGone reports whether thread tid of pid has exited or is exiting (a zombie),
// which is why attaching to it can fail with EPERM or ESRCH.
func threadGone(pid, tid int) bool {
	st, err := readStatus(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
	return err != nil || st.State == 'Z' || st.State == 'X'
}

// readMappings parses /proc/PID/maps.
func readMappings(pid int) ([]dbg.Mapping, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read mappings of pid %d: %w", pid, dbg.ErrExited)
		}
		return nil, fmt.Errorf("read mappings of pid %d: %w", pid, err)
	}
	defer f.Close()
	maps, err := parseMaps(f)
	if err != nil {
		return nil, fmt.Errorf("read mappings of pid %d: %w", pid, err)
	}
	return maps, nil
}

// parseMaps parses the text of /proc/PID/maps:
//
//	00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon
//
// The path is everything after the inode column and may contain spaces.
func parseMaps(r io.Reader) ([]dbg.Mapping, error) {
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
