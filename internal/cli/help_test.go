package cli

import (
	"bytes"
	"flag"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/gstruct"
	"github.com/gorigin-dev/gorigin/report"
)

// TestHelpOfEveryCommand: "gorigin COMMAND --help", "-h" and "gorigin help COMMAND" print
// the same help on stdout with status 0: the usage line, the summary, every flag the
// command's flag set has (so a flag added later shows up), examples, exit statuses.
func TestHelpOfEveryCommand(t *testing.T) {
	for _, c := range commands {
		if c.hidden {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			var outs []string
			for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
				var stdout, stderr bytes.Buffer
				if st := Run(args, &stdout, &stderr); st != exitOK || stderr.Len() != 0 {
					t.Fatalf("gorigin %s: status %d, stderr %q", strings.Join(args, " "), st, stderr.String())
				}
				outs = append(outs, stdout.String())
			}
			if outs[0] != outs[1] || outs[0] != outs[2] {
				t.Errorf("--help, -h and help %s differ", c.name)
			}
			out := outs[0]
			for _, want := range []string{"Usage:\n  gorigin " + c.name, c.summary, "Examples:\n", "Exit status: 0 success"} {
				if !strings.Contains(out, want) {
					t.Errorf("help does not say %q:\n%s", want, out)
				}
			}
			_, ex, _ := strings.Cut(out, "Examples:\n")
			ex, _, _ = strings.Cut(ex, "\n\n")
			n := 0
			for _, l := range strings.Split(ex, "\n") {
				if !strings.HasPrefix(l, "  #") {
					n++
				}
			}
			if n < 2 || n > 4 {
				t.Errorf("%d examples, want 2 to 4:\n%s", n, out)
			}
			f := c.newFlags(io.Discard)
			if f == nil {
				return
			}
			f.fs.VisitAll(func(fl *flag.Flag) {
				if !strings.Contains(out, "\n  "+dashes(fl.Name)) {
					t.Errorf("help does not list %s:\n%s", dashes(fl.Name), out)
				}
			})
			if strings.Contains(out, "Other flags") { // shown, but better in a group
				t.Logf("a flag of %s is in no group: add it to flagGroups", c.name)
			}
		})
	}
	var stdout bytes.Buffer
	if st := Run([]string{"help"}, &stdout, &stdout); st != exitOK {
		t.Fatalf("gorigin help: status %d", st)
	}
	for _, c := range commands {
		if !c.hidden && !strings.Contains(stdout.String(), "\n  "+c.name+" ") {
			t.Errorf("gorigin help does not list %s", c.name)
		}
	}
}

// TestCommandTable: every command of the table runs, names are unique, and the
// documented commands are exactly those help, completion and "did you mean" know.
func TestCommandTable(t *testing.T) {
	seen := map[string]bool{}
	var documented []string
	for _, c := range commands {
		if c.run == nil {
			t.Errorf("%s has no run function", c.name)
		}
		for _, n := range append([]string{c.name}, c.aliases...) {
			if seen[n] {
				t.Errorf("two commands are called %s", n)
			}
			seen[n] = true
			if lookupCommand(n) != c {
				t.Errorf("gorigin %s does not run %s", n, c.name)
			}
		}
		if !c.hidden {
			documented = append(documented, c.name)
		}
	}
	if len(documented) < 8 || !slices.Equal(documented, commandNames()) {
		t.Errorf("documented %v, commandNames %v", documented, commandNames())
	}
	var stdout bytes.Buffer
	Run([]string{"help"}, &stdout, &stdout)
	for _, c := range commands {
		if listed := strings.Contains(stdout.String(), "\n  "+c.name+" "); listed == c.hidden {
			t.Errorf("%s: hidden %v, listed by gorigin help %v", c.name, c.hidden, listed)
		}
	}
}

// TestExamplesAreValid: every example's flags exist for its command, and its values of
// --format, --by and --backend are ones gorigin accepts.
func TestExamplesAreValid(t *testing.T) {
	for _, c := range commands {
		f := c.newFlags(io.Discard)
		for _, ex := range c.examples {
			words := strings.Fields(ex[1])
			if words[0] == "sudo" {
				words = words[1:]
			}
			if words[0] != "gorigin" || (words[1] != c.name && words[1] != "--"+c.name) {
				if c.name == "completion" && words[0] == "source" {
					continue
				}
				t.Errorf("%s: example %q does not run gorigin %s", c.name, ex[1], c.name)
				continue
			}
			for i := 2; i < len(words); i++ {
				w := words[i]
				if !strings.HasPrefix(w, "-") || w == "-" {
					continue
				}
				if f == nil {
					t.Errorf("%s takes no flags: example %q", c.name, ex[1])
					break
				}
				fl := f.fs.Lookup(strings.TrimLeft(w, "-"))
				if fl == nil {
					t.Errorf("example %q: %s has no flag %s", ex[1], c.name, w)
					continue
				}
				if !takesValue(f, w) {
					continue
				}
				i++
				if c, ok := fl.Value.(*choice); ok {
					if err := c.Set(words[i]); err != nil {
						t.Errorf("example %q: %v", ex[1], err)
					}
				}
			}
		}
	}
}

func TestDidYouMean(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"atach", "1"}, `unknown command "atach": did you mean "attach"?`},
		{[]string{"wach"}, `did you mean "watch"?`},
		{[]string{"completions", "bash"}, `did you mean "completion"?`},
		{[]string{"frobnicate"}, `unknown command "frobnicate" (gorigin help lists the commands)`},
		{[]string{"attach", "1", "--formt", "json"}, "unknown flag --formt: did you mean --format?"},
		{[]string{"attach", "1", "--stack"}, "did you mean --stacks?"},
		{[]string{"watch", "1", "--sample", "3"}, "did you mean --samples?"},
		{[]string{"dap", "--lisen", ":1"}, "did you mean --listen?"},
		{[]string{"attach", "1", "--format", "jsn"}, `--format "jsn": use one of dot, html, json, pprof, text (did you mean "json"?)`},
		{[]string{"completion", "bsh"}, `did you mean "bash"?`},
		{[]string{"help", "dmp"}, `did you mean "dump"?`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if st := Run(tt.args, &stdout, &stderr); st != exitUsage {
			t.Errorf("gorigin %s: status %d, want %d", strings.Join(tt.args, " "), st, exitUsage)
		}
		if !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("gorigin %s says %q, want %q", strings.Join(tt.args, " "), stderr.String(), tt.want)
		}
		if strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("gorigin %s: want one line of error, got %q", strings.Join(tt.args, " "), stderr.String())
		}
	}
}

// TestVersion: gorigin's version line, the Go it was built with, and each Go version of
// gstruct's built-in layout table for this architecture.
func TestVersion(t *testing.T) {
	var stdout bytes.Buffer
	if st := Run([]string{"version"}, &stdout, &stdout); st != exitOK {
		t.Fatalf("status %d", st)
	}
	out := stdout.String()
	if !strings.HasPrefix(out, "gorigin ") || !strings.Contains(out, "built with "+runtime.Version()) {
		t.Errorf("version:\n%s", out)
	}
	layouts := gstruct.BuiltinLayouts()
	if len(layouts) == 0 {
		t.Fatal("gstruct has no built-in layouts")
	}
	for _, l := range layouts {
		line := "\n  " + l.Arch + ": "
		i := strings.Index(out, line)
		if i < 0 {
			t.Errorf("version lists no layouts for %s:\n%s", l.Arch, out)
			continue
		}
		rest, _, _ := strings.Cut(out[i+len(line):], "\n")
		if !slices.Contains(strings.Fields(rest), "go1."+strconv.Itoa(l.Minor)) {
			t.Errorf("version does not list %s's layout for go1.%d (from %s): %q", l.Arch, l.Minor, l.Toolchain, rest)
		}
	}
}

// TestComplete: the candidates the completion scripts show.
func TestComplete(t *testing.T) {
	tests := []struct {
		words []string
		want  []string // candidates, descriptions cut off
		not   []string
	}{
		{[]string{"at"}, []string{"attach"}, []string{"core"}},
		{[]string{""}, commandNames(), nil},
		{[]string{"help", "wa"}, []string{"watch"}, nil},
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish"}, nil},
		{[]string{"attach", "--format", ""}, report.Formats(), nil},
		{[]string{"attach", "--format", "j"}, []string{"json"}, []string{"text"}},
		{[]string{"attach", "1", "--format=p"}, []string{"--format=pprof"}, nil},
		{[]string{"attach", "--format", "=", "h"}, []string{"html"}, nil}, // bash's split of --format=h
		{[]string{"attach", "--by", ""}, []string{"origin", "start", "location", "wait", "parent", "label:"}, nil},
		{[]string{"watch", "--backend", "d"}, []string{"delve", "dlv="}, []string{"native"}},
		{[]string{"attach", "--freeze", ""}, []string{"always", "never"}, nil},
		{[]string{"attach", "--st"}, []string{"--stacks"}, []string{"--format"}},
		{[]string{"core", "--e"}, []string{"--exe", "--exclude"}, nil},
		{[]string{"core", "x", "--exe", ""}, []string{filesDirective}, nil},
		{[]string{"dump", ""}, []string{filesDirective}, nil},
		{[]string{"attach", "--stacks", "-"}, []string{"--format", "-o", "-v"}, nil}, // a bool flag takes no value
	}
	for _, tt := range tests {
		var got []string
		for _, c := range complete(tt.words) {
			name, _, _ := strings.Cut(c, "\t")
			got = append(got, name)
		}
		for _, w := range tt.want {
			if !slices.Contains(got, w) {
				t.Errorf("complete(%q) = %q, want %q among them", tt.words, got, w)
			}
		}
		for _, w := range tt.not {
			if slices.Contains(got, w) {
				t.Errorf("complete(%q) = %q, want no %q", tt.words, got, w)
			}
		}
	}
}
