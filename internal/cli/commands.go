package cli

import (
	"fmt"
	"io"
	"slices"
)

// command is one gorigin command: what help says of it, its flags, how it runs and how
// its arguments complete. The table below is the only list of commands: Run dispatches
// from it, help and completion read it.
type command struct {
	name    string
	args    string // after the name in the usage line: "PID [flags]"
	summary string // one line
	// examples are pairs: what it does, then the command line.
	examples [][2]string
	// exits are the exit statuses the command adds to 0, 1 and 2.
	exits string
	// aliases are other names Run accepts for the command (--version); help does not
	// list them.
	aliases []string
	// hidden commands are for gorigin's own use (the completion scripts, the demo):
	// help, completion and "did you mean" leave them out.
	hidden bool

	// flags defines the command's flags on f; nil for a command that takes none, whose
	// run gets its arguments as typed.
	flags func(f *flags)
	// run runs the command: args are the positional arguments (every argument for a
	// command without flags), f the parsed flags (nil without flags).
	run func(f *flags, args []string, std stdio3) error
	// operands completes a positional argument: words are the words after the command,
	// the one under the cursor last.
	operands func(words []string) []string
}

// stdio3 are the standard streams a command runs with.
type stdio3 struct {
	in       io.Reader
	out, err io.Writer
}

// newFlags makes c's flag set; nil for a command without flags.
func (c *command) newFlags(stderr io.Writer) *flags {
	if c.flags == nil {
		return nil
	}
	f := newFlags(stderr)
	c.flags(f)
	return f
}

// commands is every command, in the order help lists them. It is set in init because
// help's own run function reads it.
var commands []*command

func init() {
	commands = []*command{cmdAttach, cmdCore, cmdDump, cmdDiff, cmdWatch, cmdLeaks, cmdExporter, cmdDemo, cmdGDB, cmdDAP,
		cmdCompletion, cmdVersion, cmdHelp, cmdComplete, cmdDemoTarget, cmdDlvGuard}
}

// cmdDlvGuard is the guard gorigin starts beside a dlv session it halts (runDlvGuard).
var cmdDlvGuard = &command{name: dlvGuardCmd, hidden: true, run: func(_ *flags, args []string, std stdio3) error {
	return exitCode(runDlvGuard(args, std.in, std.err))
}}

var cmdVersion = &command{
	name: "version", summary: "print gorigin's version, the Go it was built with and the Go versions whose layouts are built in",
	aliases:  []string{"--version"},
	examples: [][2]string{{"", "gorigin version"}, {"the same, as some tools ask", "gorigin --version"}},
	run: func(_ *flags, _ []string, std stdio3) error {
		fmt.Fprint(std.out, version())
		return nil
	},
}

// findCommand is the documented command name: what help and completion know.
func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name && !c.hidden {
			return c
		}
	}
	return nil
}

// lookupCommand is the command Run runs for name: a documented command, one of its
// aliases or a hidden command.
func lookupCommand(name string) *command {
	for _, c := range commands {
		if c.name == name || slices.Contains(c.aliases, name) {
			return c
		}
	}
	return nil
}

// commandNames are the documented commands' names.
func commandNames() []string {
	var names []string
	for _, c := range commands {
		if !c.hidden {
			names = append(names, c.name)
		}
	}
	return names
}
