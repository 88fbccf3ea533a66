package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/gorigin-dev/gorigin/internal/source"
	"github.com/gorigin-dev/gorigin/report"
	runtimegdb "github.com/gorigin-dev/gorigin/runtime-gdb"
	"github.com/gorigin-dev/gorigin/scripts"
)

var cmdGDB = &command{
	name: "gdb", args: "PID|CORE [--exe BINARY]", summary: "open an interactive GDB on the process or core with runtime-gdb.py and goroutines-by-origin loaded",
	examples: [][2]string{
		{"then type goroutines-by-origin at the (gdb) prompt", "sudo gorigin gdb 4242"},
		{"the same table for goroutines started by package server only", "sudo gorigin gdb 4242   # (gdb) goroutines-by-origin server"},
	},
	run:      runGDB,
	operands: pids,
}

// runGDB replaces gorigin with an interactive GDB attached to PID (gorigin gdb PID) or on a
// core and its executable (gorigin gdb CORE [--exe BINARY]), with the runtime-gdb.py of the
// target's Go version and gorigin's goroutines-by-origin command loaded.
func runGDB(_ *flags, args []string, std stdio3) error {
	stderr := std.err
	const usage = "gdb takes one process id or core file: gorigin gdb PID, or gorigin gdb CORE [--exe BINARY]"
	if len(args) != 1 && !(len(args) == 3 && strings.TrimLeft(args[1], "-") == "exe") {
		return usageError{msg: usage}
	}
	gdb, err := exec.LookPath("gdb")
	if err != nil {
		return usageError{msg: "gorigin gdb needs gdb on PATH: install it (apt-get install gdb)"}
	}
	var exe string
	var target []string
	if pid, err := strconv.Atoi(args[0]); err == nil {
		if pid <= 0 || len(args) != 1 {
			return usageError{msg: fmt.Sprintf("%q is not a process id: %s", args[0], usage)}
		}
		exe = fmt.Sprintf("/proc/%d/exe", pid)
		if _, err := os.Stat(exe); err != nil {
			return usageError{msg: fmt.Sprintf("no process with pid %d (or no permission to read %s): %v", pid, exe, err), err: err}
		}
		target = []string{"-p", strconv.Itoa(pid)}
	} else {
		given := ""
		if len(args) == 3 {
			given = args[2]
		}
		c, err := source.OpenCore(args[0], given) // checks the core and finds its executable
		if err != nil {
			return err
		}
		exe = c.Exe()
		c.Close()
		target = []string{exe, args[0]}
	}
	var load []string
	if s, err := runtimegdb.ForExecutable(exe, runtimegdb.Options{}); err == nil {
		load = append(load, s.Path)
		fmt.Fprintf(stderr, "gorigin: loading %s (%s, %s)\n", report.Printable(s.Path), report.Printable(s.GoVersion), s.From)
	} else {
		fmt.Fprintf(stderr, "gorigin: not loading runtime-gdb.py: %s\n", report.Printable(err.Error()))
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
	// gorigin becomes gdb and cannot remove the script's directory afterwards: gdb does,
	// once it has read the script.
	argv = append(argv, "-ex", "python import shutil; shutil.rmtree("+strconv.Quote(dir)+", ignore_errors=True)")
	argv = append(argv, target...)
	fmt.Fprintf(stderr, "gorigin: type goroutines-by-origin for the grouped table\n")
	return syscall.Exec(gdb, argv, os.Environ())
}
