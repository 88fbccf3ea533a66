package cli

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// asMain makes the test binary run as gorigin (main.go's one line) when set: TestBinary
// runs it as a user or a shell would, without building gorigin again.
const asMain = "GORIGIN_CLI_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		os.Exit(Run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestBinary runs gorigin as a process, as a user or a script would: its documented exit
// statuses, shell completion, and the progress bar on a terminal. The program is this test
// binary (see TestMain), named gorigin.
func TestBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "gorigin")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, bin); err != nil {
		t.Fatal(err)
	}
	t.Setenv(asMain, "1") // for every child, and the shells' children
	// A goroutine profile endpoint that grows by 3 blocked goroutines, created at one go
	// statement, at every request: watch's verdict must be "grew in every interval".
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			go func() { <-block }()
		}
		pprof.Lookup("goroutine").WriteTo(w, 2)
	}))
	t.Cleanup(func() { srv.Close(); close(block) })
	dump := filepath.Join(dir, "goroutines.txt")
	var prof bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&prof, 2)
	if err := os.WriteFile(dump, prof.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("exit statuses", func(t *testing.T) { testExitStatuses(t, bin, dump, srv.URL) })
	t.Run("bash completion", func(t *testing.T) { testBashCompletion(t, bin) })
	t.Run("zsh completion", func(t *testing.T) { testZshCompletion(t, bin) })
	t.Run("fish completion", func(t *testing.T) { testFishCompletion(t, bin) })
	t.Run("progress bar", func(t *testing.T) { testProgressBar(t, bin, srv.URL) })
}

// run runs bin with args and returns its exit status, stdout and stderr.
func run(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
	return 0, "", ""
}

// testExitStatuses checks each status "gorigin help" documents with a real invocation.
func testExitStatuses(t *testing.T, bin, dump, url string) {
	var help bytes.Buffer
	Run([]string{"help"}, &help, &help)
	tests := []struct {
		status int
		args   []string
		stderr string // a part of it
	}{
		{0, []string{"dump", dump}, ""},
		{0, []string{"help"}, ""},
		{0, []string{"attach", "--help"}, ""},
		{1, []string{"dump", dump, "-o", "/dev/full"}, "no space left on device"},
		{2, []string{"dump", dump, "-o", filepath.Join(t.TempDir(), "no-such-dir", "out.txt")}, "create the directory first"},
		{2, nil, "Usage:"},
		{2, []string{"atach", "1"}, `did you mean "attach"?`},
		{2, []string{"attach", "1", "--formt", "json"}, "did you mean --format?"},
		{2, []string{"attach", "notapid"}, "not a process id"},
		{2, []string{"dump", os.DevNull}, "dump " + os.DevNull},
		{2, []string{"dump", dump, "--top", "abc"}, "want a whole number of groups"},
		{2, []string{"dump", "localhost:8087"}, "give its URL: http://localhost:8087/debug/pprof/goroutine"},
		{2, []string{"watch", url, "--samples", "2"}, "--samples must be at least 3"},
		{3, []string{"watch", url, "--every", "50ms", "--samples", "3"}, ""},
	}
	for _, tt := range tests {
		if want := "\n  " + string(rune('0'+tt.status)) + "  "; !strings.Contains(help.String(), want) {
			t.Errorf("gorigin help does not document exit status %d", tt.status)
		}
		st, stdout, stderr := run(t, bin, tt.args...)
		if st != tt.status {
			t.Errorf("gorigin %s: exit status %d, want %d\nstderr: %s", strings.Join(tt.args, " "), st, tt.status, stderr)
		}
		if !strings.Contains(stderr, tt.stderr) {
			t.Errorf("gorigin %s: stderr %q does not say %q", strings.Join(tt.args, " "), stderr, tt.stderr)
		}
		if tt.status == 3 && !strings.Contains(stdout, "grew every interval") {
			t.Errorf("watch exited 3 without naming the group that grew:\n%s", stdout)
		}
	}
}

// testBashCompletion sources "gorigin completion bash" in bash and calls the completion
// function as bash does on TAB, with COMP_WORDS and COMP_CWORD set.
func testBashCompletion(t *testing.T, bin string) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	// A Go process (this test's child) and a process that is not Go.
	goChild := exec.Command(bin, cmdDemoTarget.name)
	stdin, _ := goChild.StdinPipe()
	goChild.Stdout = nil
	if err := goChild.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); goChild.Process.Kill(); goChild.Wait() })
	notGo := exec.Command("sleep", "60")
	if err := notGo.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { notGo.Process.Kill(); notGo.Wait() })

	script := `source <("$GORIGIN" completion bash) || exit 9
complete -p gorigin
tab() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); _gorigin; echo "$*|${COMPREPLY[*]}"; }
tab "$GORIGIN" at
tab "$GORIGIN" attach --format ""
tab "$GORIGIN" attach 1 --format = j
tab "$GORIGIN" watch --backend ""
tab "$GORIGIN" diff --b
tab "$GORIGIN" attach ""
`
	cmd := exec.Command(bash, "--norc", "--noprofile", "-c", script)
	cmd.Env = append(os.Environ(), "GORIGIN="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[0], "complete ") || !strings.HasSuffix(lines[0], "-F _gorigin gorigin") {
		t.Fatalf("bash:\n%s", out)
	}
	replies := map[string][]string{}
	for _, l := range lines[1:] {
		words, reply, _ := strings.Cut(strings.TrimPrefix(l, bin+" "), "|")
		replies[words] = strings.Fields(reply)
	}
	check := func(words string, want ...string) {
		got := replies[words]
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("gorigin %s<TAB> offers %q, want %q among them", words, got, w)
			}
		}
	}
	check("at", "attach")
	if got := replies["at"]; len(got) != 1 {
		t.Errorf("gorigin at<TAB> offers %q, want only attach", got)
	}
	check("attach --format ", "text", "json", "pprof", "dot", "html")
	check("attach 1 --format = j", "json")
	check("watch --backend ", "native", "gdb", "delve", "dlv=")
	check("diff --b", "--backend", "--by")
	pids := replies["attach "]
	check("attach ", strconv.Itoa(goChild.Process.Pid))
	if slices.Contains(pids, strconv.Itoa(notGo.Process.Pid)) {
		t.Errorf("gorigin attach <TAB> offers pid %d of sleep, not a Go program: %q", notGo.Process.Pid, pids)
	}
}

// testZshCompletion sources "gorigin completion zsh" in zsh with compsys's _describe and
// _files replaced by functions that print what they were given, and calls _gorigin with
// words and CURRENT set as zsh does on TAB.
func testZshCompletion(t *testing.T, bin string) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Skip("no zsh (.ci/run installs it)")
	}
	script := `compdef() { :; }
source <("$GORIGIN" completion zsh) || exit 9
_describe() { print -rl -- "${(@P)${@[-1]}}"; }
_files() { print FILES; }
tab() { words=("$@"); CURRENT=$#; print "== $*"; _gorigin; }
tab "$GORIGIN" at
tab "$GORIGIN" attach --by ""
tab "$GORIGIN" core ""
`
	cmd := exec.Command(zsh, "-f", "-c", script)
	cmd.Env = append(os.Environ(), "GORIGIN="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("zsh: %v\n%s", err, out)
	}
	for _, want := range []string{
		"== " + bin + " at\nattach:snapshot a running Go process",
		"== " + bin + " attach --by \norigin\nstart\nlocation\nwait\nparent\nobject\nlabel\\:\n",
		"== " + bin + " core \nFILES",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("zsh completion does not give %q:\n%s", want, out)
		}
	}
}

// testFishCompletion loads "gorigin completion fish" and asks fish's own completer.
func testFishCompletion(t *testing.T, bin string) {
	fish, err := exec.LookPath("fish")
	if err != nil {
		t.Skip("no fish (.ci/run installs it)")
	}
	script := `"$GORIGIN" completion fish | source; or exit 9
function gorigin; "$GORIGIN" $argv; end
echo "== at"; complete -C "gorigin at"
echo "== format"; complete -C "gorigin attach --format "
echo "== flags"; complete -C "gorigin attach --st"
`
	cmd := exec.Command(fish, "--no-config", "-c", script)
	cmd.Env = append(os.Environ(), "GORIGIN="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("fish: %v\n%s", err, out)
	}
	for _, want := range []string{"== at\nattach\tsnapshot", "== format\ndot\nhtml\njson\npprof\ntext\n", "== flags\n--stacks\tcopy"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("fish completion does not give %q:\n%s", want, out)
		}
	}
}

// testProgressBar runs gorigin watch with its stderr on a terminal (util-linux script
// gives it a pty) and on a file: the bar is drawn on the first and absent from the second.
func testProgressBar(t *testing.T, bin, url string) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("no script (util-linux) to run gorigin on a pseudo-terminal")
	}
	args := []string{"watch", url, "--every", "250ms", "--samples", "4"}
	cmd := exec.Command(script, "-qfec", bin+" "+strings.Join(args, " "), os.DevNull)
	cmd.Env = append(os.Environ(), "TERM=xterm")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == exitGrowing) {
		t.Fatalf("script %s: %v\n%q", strings.Join(args, " "), err, out)
	}
	term := string(out)
	for _, want := range []string{"\rgorigin: watching: 1 group growing", "/4 ", "\r\x1b[K"} {
		if !strings.Contains(term, want) {
			t.Errorf("the terminal shows no progress bar (%q):\n%q", want, term)
		}
	}
	// The bar is erased before the table: the table's first line starts clean.
	if i := strings.Index(term, url+"  4 samples"); i < 0 || !strings.HasSuffix(term[:i], "\r\x1b[K") {
		t.Errorf("the table does not follow an erased bar:\n%q", term)
	}

	errFile := filepath.Join(t.TempDir(), "stderr")
	f, err := os.Create(errFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	plain := exec.Command(bin, args...)
	plain.Stderr = f
	plain.Env = cmd.Env
	if err := plain.Run(); err != nil && !(errors.As(err, &ee) && ee.ExitCode() == exitGrowing) {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(errFile); len(b) != 0 {
		t.Errorf("stderr to a file holds %q, want nothing", b)
	}
}
