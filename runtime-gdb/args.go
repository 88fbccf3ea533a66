package runtimegdb

// GDBArgs are the arguments that make GDB load script (a runtime-gdb.py, and then any
// extra scripts, such as gorigin's own) explicitly, with auto-loading restricted: GDB
// starts without init files (-nx), trusts no directory for auto-loading, and loads what
// it is told by "source" only.
func GDBArgs(scripts ...string) []string {
	args := []string{
		"-nx", "-q",
		"-iex", "set auto-load safe-path /nonexistent",
		"-iex", "set auto-load python-scripts off",
		"-iex", "set auto-load gdb-scripts off",
		"-iex", "set auto-load local-gdbinit off",
		"-iex", "set debuginfod enabled off",
	}
	for _, s := range scripts {
		if s != "" {
			args = append(args, "-ex", "source "+s)
		}
	}
	return args
}
