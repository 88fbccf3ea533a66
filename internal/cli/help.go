package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// exitStatusHelp documents the exit statuses exitStatus and runWatch return.
const exitStatusHelp = `Exit status:
  0  success
  1  the work failed for a reason that is not the input's: an I/O error, a target gorigin
     could not read as expected (please report these)
  2  bad usage or bad input: unknown command or flag, no such process, not a Go program,
     no permission to attach, a file that is not a core or a dump
  3  watch only: some group grew in every interval
`

// wantsHelp reports whether args (after the command) ask for help before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// printOverview is "gorigin help": every command with its summary.
func printOverview(w io.Writer) {
	fmt.Fprint(w, "gorigin lists the goroutines of a Go process, a core dump or a goroutine dump,\ngrouped by the go statement that created them.\n\nUsage:\n  gorigin COMMAND [ARGS] [flags]\n\nCommands:\n")
	width := 0
	for _, name := range commandNames() {
		width = max(width, len(name))
	}
	for _, c := range commands {
		if c.hidden {
			continue
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprint(w, "\nExamples:\n")
	for _, name := range []string{"attach", "core", "dump", "watch"} {
		ex := findCommand(name).examples[0]
		fmt.Fprintf(w, "  %-40s  # %s\n", ex[1], ex[0])
	}
	fmt.Fprint(w, "\n"+exitStatusHelp)
	fmt.Fprint(w, "\n\"gorigin COMMAND --help\" (or \"gorigin help COMMAND\") shows a command's flags and examples.\n")
}

// printCommandHelp is "gorigin COMMAND --help".
func printCommandHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "gorigin %s: %s\n\nUsage:\n  gorigin %s", c.name, c.summary, c.name)
	if c.args != "" {
		fmt.Fprint(w, " "+c.args)
	}
	fmt.Fprintln(w)
	if f := c.newFlags(io.Discard); f != nil {
		printFlags(w, f)
	}
	if len(c.examples) > 0 {
		fmt.Fprint(w, "\nExamples:\n")
		for _, ex := range c.examples {
			if ex[0] != "" {
				fmt.Fprintf(w, "  # %s\n", ex[0])
			}
			fmt.Fprintf(w, "  %s\n", ex[1])
		}
	}
	fmt.Fprint(w, "\nExit status: 0 success, 1 the work failed, 2 bad usage or input")
	if c.exits != "" {
		fmt.Fprint(w, ", "+c.exits)
	}
	fmt.Fprint(w, " (gorigin help explains them).\n")
}

// printFlags writes f's flags under their groups' headings, each sorted by name; a flag
// in no group is under "Other flags", so a new flag is never left out of help.
func printFlags(w io.Writer, f *flags) {
	var grouped [len(flagGroupTitles)][]*flag.Flag
	f.fs.VisitAll(func(fl *flag.Flag) {
		g := f.groups[fl.Name]
		grouped[g] = append(grouped[g], fl)
	})
	for _, g := range []flagGroup{sourceFlags, filterFlags, outputFlags, otherFlags} {
		if len(grouped[g]) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", g)
		for _, fl := range grouped[g] {
			fmt.Fprint(w, flagLine(fl))
		}
	}
}

// flagLine is "  --name VALUE\n        usage (default x)\n", as flag.PrintDefaults writes it
// but with the two dashes people type.
func flagLine(fl *flag.Flag) string {
	name, usage := flag.UnquoteUsage(fl)
	if c, ok := fl.Value.(*choice); ok && name == "value" { // no `name` in the usage
		name = strings.Join(c.choices, "|") // --format dot|html|json|pprof|text
	}
	head := "  " + dashes(fl.Name)
	if name != "" {
		head += " " + name
	}
	if def := fl.DefValue; def != "" && def != "false" && def != "0" && def != "0s" && def != "[]" {
		usage += fmt.Sprintf(" (default %s)", def)
	}
	return head + "\n        " + strings.ReplaceAll(usage, "\n", "\n        ") + "\n"
}

// dashes is how help spells a flag: -o and -v with one dash, the others with two.
func dashes(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// suggest returns the candidate closest to s when it is close enough to be a typo: an
// edit distance of at most a third of its length (and at least 1), or a prefix.
func suggest(s string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		d := editDistance(s, c)
		if len(s) >= 2 && strings.HasPrefix(c, s) {
			d = min(d, 1)
		}
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > max(1, len(s)/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes (names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// flagError makes a flag parse error a usage error, with "did you mean" for an unknown
// flag.
func flagError(fs *flag.FlagSet, err error) error {
	var bad error // an enumerated flag's own message: the flag package does not wrap it
	fs.VisitAll(func(fl *flag.Flag) {
		if c, ok := fl.Value.(*choice); ok && c.err != nil {
			bad = c.err
		}
	})
	if bad != nil {
		return bad
	}
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	if !ok {
		return usageError{msg: err.Error(), err: err}
	}
	var names []string
	fs.VisitAll(func(fl *flag.Flag) { names = append(names, fl.Name) })
	msg := fmt.Sprintf("unknown flag %s", dashes(name))
	if s := suggest(name, names); s != "" {
		msg += fmt.Sprintf(": did you mean %s?", dashes(s))
	}
	return usageError{msg: msg + " (--help lists the flags)"}
}

// unknownCommand is the error for a command gorigin does not have.
func unknownCommand(name string) error {
	msg := fmt.Sprintf("unknown command %q", name)
	if s := suggest(name, commandNames()); s != "" {
		msg += fmt.Sprintf(": did you mean %q?", s)
	}
	return usageError{msg: msg + " (gorigin help lists the commands)"}
}

// valueError is a usage error for a flag value not among choices, with "did you mean".
func valueError(flagName, value string, choices []string) error {
	use := "one of " + strings.Join(choices, ", ")
	if len(choices) == 2 {
		use = choices[0] + " or " + choices[1]
	}
	msg := fmt.Sprintf("--%s %q: use %s", flagName, value, use)
	if s := suggest(value, choices); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return usageError{msg: msg}
}
