package leaks

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// memoryRoom is how many more bytes gorigin may allocate without running the host (or
// its own cgroup, or its address-space limit) out of memory, and which limit is the
// tightest: the host's MemAvailable, its cgroup's memory.max less memory.current (and
// every parent's), RLIMIT_AS less its own address space.
func memoryRoom() (uint64, string) {
	room, limit := uint64(math.MaxUint64), "nothing"
	take := func(n uint64, what string) {
		if n < room {
			room, limit = n, what
		}
	}
	if kb, ok := meminfo("/proc/meminfo", "MemAvailable:"); ok {
		take(kb<<10, "the host's MemAvailable")
	}
	if n, what, ok := cgroupRoom(); ok {
		take(n, what)
	}
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_AS, &rl) == nil && rl.Cur != math.MaxUint64 && rl.Cur != ^uint64(0) {
		used, _ := meminfo("/proc/self/status", "VmSize:")
		used <<= 10
		if used < rl.Cur {
			take(rl.Cur-used, "its address-space limit (RLIMIT_AS)")
		} else {
			take(0, "its address-space limit (RLIMIT_AS)")
		}
	}
	return room, limit
}

// meminfo reads a "Key: N kB" line.
func meminfo(path, key string) (uint64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			fs := strings.Fields(rest)
			if len(fs) > 0 {
				n, err := strconv.ParseUint(fs[0], 10, 64)
				return n, err == nil
			}
		}
	}
	return 0, false
}

// cgroupRoom is the room left under the tightest memory limit of gorigin's cgroup and
// its parents (cgroup v2; v1's memory controller too).
func cgroupRoom() (uint64, string, bool) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, "", false
	}
	room, what, found := uint64(math.MaxUint64), "", false
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var root, limitFile, usageFile string
		switch {
		case parts[0] == "0" && parts[1] == "":
			root, limitFile, usageFile = "/sys/fs/cgroup", "memory.max", "memory.current"
		case strings.Contains(","+parts[1]+",", ",memory,"):
			root, limitFile, usageFile = "/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes"
		default:
			continue
		}
		for dir := filepath.Join(root, filepath.Clean("/"+parts[2])); strings.HasPrefix(dir, root); dir = filepath.Dir(dir) {
			limit, ok1 := readUint(filepath.Join(dir, limitFile))
			usage, ok2 := readUint(filepath.Join(dir, usageFile))
			if ok1 && ok2 && limit < 1<<60 {
				n := uint64(0)
				if usage < limit {
					n = limit - usage
				}
				if n < room {
					room, what, found = n, "its cgroup's memory limit ("+filepath.Join(dir, limitFile)+")", true
				}
			}
			if dir == root {
				break
			}
		}
	}
	return room, what, found
}

func readUint(path string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}
