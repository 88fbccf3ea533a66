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

	"github.com/gorigin-dev/gorigin/report"
)

// completeCmd is the hidden command the completion scripts call: "gorigin __complete
// WORD... CURRENT" prints the candidates for CURRENT, one a line, each optionally
// followed by a tab and a description; a line ":files" asks the shell to complete file
// names too. All the knowledge is here; the scripts only pass words and show answers.
const completeCmd = "__complete"

// filesDirective is the line that asks the shell for file names.
const filesDirective = ":files"

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
	return usageError{"help takes at most one command: gorigin help [COMMAND]"}
}

// runCompletion is "gorigin completion bash|zsh|fish".
func runCompletion(args []string, stdout io.Writer) error {
	shells := []string{"bash", "zsh", "fish"}
	if len(args) != 1 {
		return usageError{"completion takes one shell: gorigin completion bash|zsh|fish"}
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
		return usageError{msg}
	}
	_, err := io.WriteString(stdout, script)
	return err
}

// flagValues are the values completion offers after a flag; nil means a file name.
var flagValues = map[string]func() []string{
	"format":  report.Formats,
	"by":      func() []string { return []string{"origin", "start", "location", "wait", "parent", "label:"} },
	"backend": func() []string { return []string{"native", "gdb", "delve", "dlv="} },
	"freeze":  func() []string { return []string{"always", "never"} },
	"o":       nil,
	"exe":     nil,
}

// runComplete prints the candidates for the last of words (the command line after
// "gorigin", the word under the cursor last, maybe empty).
func runComplete(words []string, stdout io.Writer) {
	for _, c := range complete(words) {
		fmt.Fprintln(stdout, c)
	}
}

func complete(words []string) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	cur := words[len(words)-1]
	if len(words) == 1 { // the command
		var out []string
		for _, c := range commands {
			if strings.HasPrefix(c.name, cur) {
				out = append(out, c.name+"\t"+c.summary)
			}
		}
		return out
	}
	cmd := words[0]
	switch cmd {
	case "help":
		if len(words) == 2 {
			return complete([]string{cur})
		}
		return nil
	case "completion":
		return prefixed(cur, []string{"bash", "zsh", "fish"}, "")
	}
	fs := commandFlags(cmd)
	prev := ""
	if len(words) >= 3 {
		prev = words[len(words)-2]
	}
	// Bash splits "--format=js" into "--format", "=", "js".
	switch {
	case cur == "=" && strings.HasPrefix(prev, "-"):
		return flagValueCandidates(fs, prev, "", "=")
	case prev == "=" && len(words) >= 4:
		return flagValueCandidates(fs, words[len(words)-3], cur, "")
	case strings.HasPrefix(cur, "-") && strings.Contains(cur, "="):
		name, val, _ := strings.Cut(cur, "=")
		return flagValueCandidates(fs, name, val, name+"=")
	case strings.HasPrefix(prev, "-") && !strings.Contains(prev, "=") && takesValue(fs, prev):
		return flagValueCandidates(fs, prev, cur, "")
	case strings.HasPrefix(cur, "-"):
		return flagCandidates(fs, cur)
	}
	switch cmd {
	case "attach", "gdb", "watch":
		return goProcesses(cur)
	case "diff":
		return append(goProcesses(cur), filesDirective)
	case "core", "dump":
		return []string{filesDirective}
	}
	return nil
}

// lookupFlag finds "-x" or "--name" in fs.
func lookupFlag(fs *flag.FlagSet, arg string) *flag.Flag {
	if fs == nil {
		return nil
	}
	return fs.Lookup(strings.TrimLeft(arg, "-"))
}

func takesValue(fs *flag.FlagSet, arg string) bool {
	fl := lookupFlag(fs, arg)
	if fl == nil {
		return false
	}
	b, ok := fl.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// flagValueCandidates are the values of flag arg starting with cur, each prefixed with
// add.
func flagValueCandidates(fs *flag.FlagSet, arg, cur, add string) []string {
	fl := lookupFlag(fs, arg)
	if fl == nil {
		return nil
	}
	values, known := flagValues[fl.Name]
	if !known {
		return nil // a number, a duration, a regex: nothing to offer
	}
	if values == nil {
		return []string{filesDirective}
	}
	return prefixed(cur, values(), add)
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
func flagCandidates(fs *flag.FlagSet, cur string) []string {
	if fs == nil {
		return nil
	}
	var out []string
	fs.VisitAll(func(fl *flag.Flag) {
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
