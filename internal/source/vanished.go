package source

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// processImage identifies what pid runs: its auxiliary vector, which the kernel writes
// anew at every exec (stack and vDSO addresses, AT_RANDOM, AT_EXECFN). Nil when unreadable.
func processImage(pid int) []byte {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/auxv", pid))
	return b
}

// vanished says what became of pid when a read of it failed: "exited" (gone, or a zombie
// its parent or tracer has not reaped), "exec'd another program" (its image differs from
// before, taken by processImage at attach), or "" when it is still the process gorigin
// attached to.
func vanished(pid int, before []byte) string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "exited"
	}
	if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
		return "exited"
	}
	// A process on its way out has dropped its memory, and with it /proc/PID/exe, before
	// its state says Z; a live user process always has an executable.
	if _, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); errors.Is(err, fs.ErrNotExist) {
		return "exited"
	}
	if now := processImage(pid); before != nil && now != nil && !bytes.Equal(before, now) {
		return "exec'd another program"
	}
	return ""
}
