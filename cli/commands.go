package cli

// command documents one gorigin command for help, completion and "did you mean". The
// commands themselves are dispatched by the switch in Run; TestEveryCommandIsDocumented
// keeps the two lists the same.
type command struct {
	name    string
	args    string // after the name in the usage line: "PID [flags]"
	summary string // one line
	// examples are pairs: what it does, then the command line.
	examples [][2]string
	// exits are the exit statuses the command adds to 0, 1 and 2.
	exits string
}

// commands is every user-facing command, in the order help lists them.
var commands = []command{
	{name: "attach", args: "PID [flags]", summary: "snapshot a running Go process (frozen for milliseconds) and group its goroutines by go statement",
		examples: [][2]string{
			{"the groups of process 4242, largest first", "sudo gorigin attach 4242"},
			{"the 5 largest groups with a representative stack each", "sudo gorigin attach 4242 --top 5 --stacks -v"},
			{"a flame graph of the spawn tree for go tool pprof", "sudo gorigin attach 4242 --format pprof -o spawn.pb.gz"},
			{"through GDB instead of gorigin's own ptrace", "sudo gorigin attach 4242 --backend gdb"},
		}},
	{name: "core", args: "CORE [--exe BINARY] [flags]", summary: "snapshot a core dump (kernel, gcore or dlv dump) like attach snapshots a process",
		examples: [][2]string{
			{"the groups of a core the kernel wrote", "gorigin core core.4242"},
			{"a core whose executable moved", "gorigin core core.4242 --exe ./api-server"},
			{"an HTML report of it", "gorigin core core.4242 --stacks --format html -o report.html"},
		}},
	{name: "dump", args: "FILE|URL|- [flags]", summary: "read a goroutine dump: a debug=2/1/0 profile (file or URL), a panic or SIGQUIT traceback, a saved JSON snapshot",
		examples: [][2]string{
			{"a server's /debug/pprof/goroutine endpoint", "gorigin dump http://localhost:6060"},
			{"a crash log on standard input", "gorigin dump - < panic.log"},
			{"a snapshot saved with --format json, grouped by wait reason", "gorigin dump before.json --by wait"},
		}},
	{name: "diff", args: "BEFORE AFTER [flags]", summary: "compare two snapshots of one program group by group, sorted by growth",
		examples: [][2]string{
			{"two saved profiles", "gorigin diff before.txt after.txt"},
			{"a saved snapshot against the live process", "sudo gorigin diff before.json 4242"},
			{"the growth per group as an HTML page", "gorigin diff before.json after.json --format html -o diff.html"},
		}},
	{name: "watch", args: "PID|URL [flags]", summary: "take repeated snapshots and say whether a group grew in every interval",
		exits: "3 when some group grew in every interval",
		examples: [][2]string{
			{"six snapshots ten seconds apart (the default)", "sudo gorigin watch 4242"},
			{"a server's profile endpoint every minute, as JSON", "gorigin watch http://localhost:6060 --every 1m --samples 10 --format json"},
			{"fail a CI job when a group keeps growing", "gorigin watch http://localhost:6060 --every 5s --samples 4 || echo leak"},
		}},
	{name: "leaks", args: "PID|CORE [--exe BINARY] [flags]", summary: "prove which blocked goroutines leaked: mark the heap from the roots and give each a verdict",
		examples: [][2]string{
			{"the leaked goroutines of process 4242, grouped by go statement", "sudo gorigin leaks 4242"},
			{"every goroutine with its verdict (leaked, live or unknown)", "sudo gorigin leaks 4242 --all"},
			{"the same from a core dump", "gorigin leaks core.4242 --exe ./api-server"},
		}},
	{name: "demo", args: "[flags]", summary: "start a bundled leaky demo program, attach to it and show the result",
		examples: [][2]string{
			{"the table", "sudo gorigin demo"},
			{"the HTML report of the demo", "sudo gorigin demo --stacks --format html -o demo.html"},
		}},
	{name: "gdb", args: "PID|CORE [--exe BINARY]", summary: "open an interactive GDB on the process or core with runtime-gdb.py and goroutines-by-origin loaded",
		examples: [][2]string{
			{"then type goroutines-by-origin at the (gdb) prompt", "sudo gorigin gdb 4242"},
			{"the same table for goroutines started by package server only", "sudo gorigin gdb 4242   # (gdb) goroutines-by-origin server"},
		}},
	{name: "dap", args: "[--listen 127.0.0.1:PORT|unix:PATH [--allow-remote]]", summary: "serve the Debug Adapter Protocol for IDEs (stdin/stdout, TCP or a Unix socket)",
		examples: [][2]string{
			{"on stdin/stdout, as an IDE starts it", "gorigin dap"},
			{"on a local port, for an IDE's debugServer setting (serves only you, the user who ran sudo)", "sudo gorigin dap --listen 127.0.0.1:4711"},
			{"on a Unix socket of mode 0600, owned by the user who ran sudo", "sudo gorigin dap --listen unix:$XDG_RUNTIME_DIR/gorigin-dap.sock"},
		}},
	{name: "completion", args: "bash|zsh|fish", summary: "print a shell completion script for commands, flags, their values and pids",
		examples: [][2]string{
			{"in this bash session", "source <(gorigin completion bash)"},
			{"for every zsh session", "gorigin completion zsh > \"${fpath[1]}/_gorigin\""},
			{"for fish", "gorigin completion fish > ~/.config/fish/completions/gorigin.fish"},
		}},
	{name: "version", summary: "print gorigin's version, the Go it was built with and the Go versions whose layouts are built in",
		examples: [][2]string{{"", "gorigin version"}, {"the same, as some tools ask", "gorigin --version"}}},
	{name: "help", args: "[COMMAND]", summary: "print help for gorigin or one command (also: gorigin COMMAND --help)",
		examples: [][2]string{{"every command", "gorigin help"}, {"one command's flags and examples", "gorigin help watch"}}},
}

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

func commandNames() []string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return names
}
