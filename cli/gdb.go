package cli

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/gorigin-dev/gorigin/runtimegdb"
	"github.com/gorigin-dev/gorigin/scripts"
)

// runGDB replaces gorigin with an interactive GDB attached to PID, with the runtime-gdb.py
// of the target's Go version and gorigin's goroutines-by-origin command loaded (gorigin gdb PID).
func runGDB(args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		return usageError{"gdb takes one process id: gorigin gdb PID"}
	}
	pid, err := strconv.Atoi(args[0])
	if err != nil || pid <= 0 {
		return usageError{fmt.Sprintf("%q is not a process id: gorigin gdb PID", args[0])}
	}
	gdb, err := exec.LookPath("gdb")
	if err != nil {
		return usageError{"gorigin gdb needs gdb on PATH: install it (apt-get install gdb)"}
	}
	exe := fmt.Sprintf("/proc/%d/exe", pid)
	if _, err := os.Stat(exe); err != nil {
		return usageError{fmt.Sprintf("no process with pid %d (or no permission to read %s): %v", pid, exe, err)}
	}
	var load []string
	if s, err := runtimegdb.ForExecutable(exe, runtimegdb.Options{}); err == nil {
		load = append(load, s.Path)
		fmt.Fprintf(stderr, "gorigin: loading %s (%s, %s)\n", s.Path, s.GoVersion, s.From)
	} else {
		fmt.Fprintf(stderr, "gorigin: not loading runtime-gdb.py: %v\n", err)
	}
	dir, err := os.MkdirTemp("", "gorigin-gdb-")
	if err != nil {
		return fmt.Errorf("write gorigin_gdb.py: %w", err)
	}
	script := filepath.Join(dir, "gorigin_gdb.py")
	if err := os.WriteFile(script, scripts.GDB, 0o600); err != nil {
		return fmt.Errorf("write gorigin_gdb.py: %w", err)
	}
	load = append(load, script)
	argv := append([]string{"gdb"}, runtimegdb.GDBArgs(load...)...)
	argv = append(argv, "-p", strconv.Itoa(pid))
	fmt.Fprintf(stderr, "gorigin: type goroutines-by-origin for the grouped table\n")
	return syscall.Exec(gdb, argv, os.Environ())
}
