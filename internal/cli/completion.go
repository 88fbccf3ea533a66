package cli

import (
	"debug/buildinfo"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// cmdComplete is the hidden command the completion scripts call: "gorigin __complete
// WORD... CURRENT" prints the candidates for CURRENT, one a line, each optionally
// followed by a tab and a description; a line ":files" asks the shell to complete file
// names too. All the knowledge is in the command table; the scripts only pass words and
// show answers.
var cmdComplete = &command{name: completeCmd, hidden: true, run: runComplete}

const completeCmd = "__complete"

// filesDirective is the line that asks the shell for file names.
const filesDirective = ":files"

var cmdHelp = &command{
	name: "help", args: "[COMMAND]", summary: "print help for gorigin or one command (also: gorigin COMMAND --help)",
	aliases:  []string{"-h", "--help", "-help"},
	examples: [][2]string{{"every command", "gorigin help"}, {"one command's flags and examples", "gorigin help watch"}},
	run:      func(_ *flags, args []string, std stdio3) error { return runHelp(args, std.out) },
	operands: func(words []string) []string {
		if len(words) == 1 {
			return complete(words)
		}
		return nil
	},
}

var cmdCompletion = &command{
	name: "completion", args: "bash|zsh|fish", summary: "print a shell completion script for commands, flags, their values and pids",
	examples: [][2]string{
		{"in this bash session", "source <(gorigin completion bash)"},
		{"for every zsh session", "gorigin completion zsh > \"${fpath[1]}/_gorigin\""},
		{"for fish", "gorigin completion fish > ~/.config/fish/completions/gorigin.fish"},
	},
	run:      func(_ *flags, args []string, std stdio3) error { return runCompletion(args, std.out) },
	operands: func(words []string) []string { return prefixed(words[len(words)-1], shells, "") },
}

var shells = []string{"bash", "zsh", "fish"}

// runHelp is "gorigin help [COMMAND]".
func runHelp(args []string, stdout io.Writer) error {
	switch len(args) {
	case 0:
		printOverview(stdout)
		return nil
	case 1:
		c := findCommand(args[0])
		if c == nil {
			return unknownCommand(args[0])
		}
		printCommandHelp(stdout, c)
		return nil
	}
	return usageError{msg: "help takes at most one command: gorigin help [COMMAND]"}
}

// runCompletion is "gorigin completion bash|zsh|fish".
func runCompletion(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return usageError{msg: "completion takes one shell: gorigin completion bash|zsh|fish"}
	}
	var script string
	switch args[0] {
	case "bash":
		script = bashCompletion
	case "zsh":
		script = zshCompletion
	case "fish":
		script = fishCompletion
	default:
		msg := fmt.Sprintf("completion %q: use bash, zsh or fish", args[0])
		if s := suggest(args[0], shells); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return usageError{msg: msg}
	}
	_, err := io.WriteString(stdout, script)
	return err
}

// runComplete prints the candidates for the last of words (the command line after
// "gorigin", the word under the cursor last, maybe empty).
func runComplete(_ *flags, words []string, std stdio3) error {
	for _, c := range complete(words) {
		fmt.Fprintln(std.out, c)
	}
	return nil
}

func complete(words []string) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	cur := words[len(words)-1]
	if len(words) == 1 { // the command
		var out []string
		for _, c := range commands {
			if !c.hidden && strings.HasPrefix(c.name, cur) {
				out = append(out, c.name+"\t"+c.summary)
			}
		}
		return out
	}
	c := findCommand(words[0])
	if c == nil {
		return nil
	}
	f := c.newFlags(io.Discard)
	prev := ""
	if len(words) >= 3 {
		prev = words[len(words)-2]
	}
	// Bash splits "--format=js" into "--format", "=", "js".
	switch {
	case cur == "=" && strings.HasPrefix(prev, "-"):
		return flagValueCandidates(f, prev, "", "=")
	case prev == "=" && len(words) >= 4:
		return flagValueCandidates(f, words[len(words)-3], cur, "")
	case strings.HasPrefix(cur, "-") && strings.Contains(cur, "="):
		name, val, _ := strings.Cut(cur, "=")
		return flagValueCandidates(f, name, val, name+"=")
	case strings.HasPrefix(prev, "-") && !strings.Contains(prev, "=") && takesValue(f, prev):
		return flagValueCandidates(f, prev, cur, "")
	case strings.HasPrefix(cur, "-"):
		return flagCandidates(f, cur)
	}
	if c.operands == nil {
		return nil
	}
	return c.operands(words[1:])
}

// lookupFlag finds "-x" or "--name" among f's flags.
func lookupFlag(f *flags, arg string) *flag.Flag {
	if f == nil {
		return nil
	}
	return f.fs.Lookup(strings.TrimLeft(arg, "-"))
}

func takesValue(f *flags, arg string) bool {
	fl := lookupFlag(f, arg)
	if fl == nil {
		return false
	}
	b, ok := fl.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// flagValueCandidates are the values of flag arg starting with cur, each prefixed with
// add.
func flagValueCandidates(f *flags, arg, cur, add string) []string {
	fl := lookupFlag(f, arg)
	switch {
	case fl == nil:
		return nil
	case slices.Contains(f.files, fl.Name):
		return []string{filesDirective}
	}
	if c, ok := fl.Value.(*choice); ok {
		return prefixed(cur, c.choices, add)
	}
	return nil // a number, a duration, a regex: nothing to offer
}

func prefixed(cur string, values []string, add string) []string {
	var out []string
	for _, v := range values {
		if strings.HasPrefix(v, cur) {
			out = append(out, add+v)
		}
	}
	return out
}

// flagCandidates are fs's flags starting with cur, as help spells them, with their usage.
func flagCandidates(f *flags, cur string) []string {
	if f == nil {
		return nil
	}
	var out []string
	f.fs.VisitAll(func(fl *flag.Flag) {
		d := dashes(fl.Name)
		if strings.HasPrefix(d, cur) || strings.HasPrefix("--"+fl.Name, cur) {
			_, usage := flag.UnquoteUsage(fl)
			out = append(out, d+"\t"+firstLine(usage))
		}
	})
	return out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// goProcesses are the pids starting with cur of the processes whose executable is a Go
// program, with their command names; gorigin itself is left out.
func goProcesses(cur string) []string {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || !strings.HasPrefix(e.Name(), cur) {
			continue
		}
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	var out []string
	for _, pid := range pids {
		if _, err := buildinfo.ReadFile(fmt.Sprintf("/proc/%d/exe", pid)); err != nil {
			continue // not Go, gone, or not ours to read
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		out = append(out, strconv.Itoa(pid)+"\t"+strings.TrimSpace(string(comm)))
	}
	return out
}

// The scripts call "gorigin __complete" with the words typed so far (the program as
// typed, so ./gorigin works too) and show its answers.

const bashCompletion = `# bash completion for gorigin: source <(gorigin completion bash)
_gorigin() {
    local cur=${COMP_WORDS[COMP_CWORD]} line files=0
    local -a cands=()
    while IFS= read -r line; do
        if [[ $line == ` + filesDirective + ` ]]; then files=1; continue; fi
        cands+=("${line%%$'\t'*}")
    done < <("${COMP_WORDS[0]}" ` + completeCmd + ` "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
    COMPREPLY=("${cands[@]}")
    if ((files)); then
        local IFS=$'\n'
        COMPREPLY+=($(compgen -f -- "$cur"))
    fi
}
complete -o filenames -o nosort -F _gorigin gorigin 2>/dev/null || complete -o filenames -F _gorigin gorigin
`

const zshCompletion = `#compdef gorigin
# zsh completion for gorigin: source <(gorigin completion zsh), or save it as _gorigin in $fpath
_gorigin() {
    local -a cands lines
    local line files=0
    lines=("${(@f)$("${words[1]}" ` + completeCmd + ` "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    for line in "${lines[@]}"; do
        [[ -z $line ]] && continue
        if [[ $line == ` + filesDirective + ` ]]; then files=1; continue; fi
        local name=${line%%$'\t'*} desc=
        [[ $line == *$'\t'* ]] && desc=${line#*$'\t'}
        cands+=("${name//:/\\:}${desc:+:$desc}")
    done
    (( ${#cands} )) && _describe -V gorigin cands
    (( files )) && _files
    return 0
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _gorigin "$@"
else
    compdef _gorigin gorigin
fi
`

const fishCompletion = `# fish completion for gorigin: gorigin completion fish > ~/.config/fish/completions/gorigin.fish
function __gorigin_complete
    set -l words (commandline -opc) (commandline -ct)
    set -l prog $words[1]
    set -e words[1]
    $prog ` + completeCmd + ` $words 2>/dev/null | while read -l line
        if test "$line" = "` + filesDirective + `"
            __fish_complete_path (commandline -ct)
        else
            echo $line
        end
    end
end
complete -c gorigin -f -a '(__gorigin_complete)'
`
