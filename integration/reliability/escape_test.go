package reliability

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// Strings a target controls, written to act on the terminal that shows gorigin's output:
// retitle it, clear it, colour it through a C1 CSI, reverse the reading order, and bytes
// that are not UTF-8.
const (
	hostileTitle = "\x1b]0;pwned\x07"
	hostileClear = "\x1b[2J"
	hostileC1    = "\u009b31m"
	hostileBidi  = "\u202egnp.exe"
	hostileNUL   = "a\x00b"
)

// hostileDump is a debug=2 goroutine dump (the format of `gorigin dump` input and of a
// pprof endpoint) whose labels, function names and file paths carry the strings above,
// the labels quoted as Go 1.26 prints them (%q). labels are its labels, unquoted.
func hostileDump() (dump string, labels map[string]string) {
	labels = map[string]string{"tenant": hostileTitle + hostileClear, "route": hostileBidi + hostileC1 + hostileNUL}
	dump = `goroutine 1 [running]:
main.main()
	/src/app/main.go:10 +0x1d

goroutine 7 [chan receive labels:{"route": ` + strconv.Quote(labels["route"]) + `, "tenant": ` + strconv.Quote(labels["tenant"]) + `}]:
main.recv` + hostileClear + `(...)
	/src/` + hostileTitle + "\xff" + `/recv.go:12 +0x25
created by main.spawn` + hostileBidi + ` in goroutine 1
	/src/app/` + hostileC1 + `main.go:20 +0x30

goroutine 8 [select]:
main.poll()
	/src/app/poll.go:5 +0x25
created by main.main in goroutine 1
	/src/app/main.go:21 +0x30
`
	return dump, labels
}

// checkTerminalSafe fails if out holds a byte or character a terminal acts on: a C0
// control other than newline and tab (tabwriter pads with spaces, the table never writes
// a tab), DEL, a C1 control, a Unicode format character, or a byte that is not UTF-8.
func checkTerminalSafe(t *testing.T, what string, out []byte) {
	t.Helper()
	for i := 0; i < len(out); {
		r, n := utf8.DecodeRune(out[i:])
		if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			t.Errorf("%s: raw %U (byte %#x) at %d: %q", what, r, out[i], i, out[max(0, i-30):min(len(out), i+30)])
			return
		}
		i += n
	}
}

// TestHostileStringsEscaped: the real binary, on a dump whose labels, functions and paths
// carry terminal escapes, bidi overrides, NUL and non-UTF-8 bytes, writes none of them raw
// in text output (dump in every grouping and -v, diff, watch) nor in its error messages
// on stderr, and shows them escaped; JSON carries the labels exactly (the oracle: the
// labels written into the dump); DOT of them is accepted by Graphviz.
func TestHostileStringsEscaped(t *testing.T) {
	t.Parallel()
	dump, labels := hostileDump()
	dir := t.TempDir()
	file := filepath.Join(dir, "hostile.txt")
	if err := os.WriteFile(file, []byte(dump), 0o644); err != nil {
		t.Fatal(err)
	}
	url := httptestServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(dump)) })

	texts := map[string][]string{
		"dump":                    {"dump", file},
		"dump -v":                 {"dump", file, "-v"},
		"dump --by label:tenant":  {"dump", file, "--by", "label:tenant"},
		"dump --by label:route":   {"dump", file, "--by", "label:route", "-v"},
		"dump --by location":      {"dump", file, "--by", "location"},
		"dump --by start":         {"dump", file, "--by", "start"},
		"diff":                    {"diff", file, file},
		"watch":                   {"watch", url, "--every", "50ms", "--samples", "3"},
		"dump of a missing file":  {"dump", filepath.Join(dir, "no"+hostileTitle+hostileClear)},
		"dump of a bad --match":   {"dump", file, "--match", "label:(" + hostileClear},
		"an unknown flag":         {"dump", file, "--" + hostileTitle},
		"an unknown command":      {hostileTitle + hostileClear},
		"an unknown --by":         {"dump", file, "--by", hostileClear},
		"an unknown --format":     {"dump", file, "--format", hostileTitle},
		"a pid that is not a pid": {"attach", hostileTitle},
	}
	for name, args := range texts {
		t.Run(name, func(t *testing.T) {
			r := runGorigin(t, nil, nil, args...)
			if panicRE.Match(r.Stderr) {
				t.Fatalf("gorigin panicked:\n%s", r.Stderr)
			}
			checkTerminalSafe(t, "stdout", r.Stdout)
			checkTerminalSafe(t, "stderr", r.Stderr)
			both := string(r.Stdout) + string(r.Stderr)
			if !strings.Contains(both, `\x1b`) {
				t.Errorf("neither stdout nor stderr shows the escaped ESC:\n%s%s", r.Stdout, r.Stderr)
			}
			t.Logf("exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		})
	}

	t.Run("json is exact", func(t *testing.T) {
		r := runGorigin(t, nil, nil, "dump", file, "--format", "json")
		if r.Code != 0 {
			t.Fatalf("%v", r)
		}
		snap := decodeSnapshot(t, r)
		var found bool
		for _, g := range snap.Goroutines {
			if g.ID != 7 {
				continue
			}
			found = true
			for k, v := range labels {
				if g.Labels[k] != v {
					t.Errorf("label %s: %q in the JSON, the dump has %q", k, g.Labels[k], v)
				}
			}
			if g.Start == nil || g.Start.Func != "main.recv"+hostileClear {
				t.Errorf("start %+v, want func %q", g.Start, "main.recv"+hostileClear)
			}
			if g.Origin == nil || g.Origin.Func != "main.spawn"+hostileBidi || g.Origin.File != "/src/app/"+hostileC1+"main.go" {
				t.Errorf("origin %+v, want main.spawn%q in /src/app/%qmain.go", g.Origin, hostileBidi, hostileC1)
			}
		}
		if !found {
			t.Errorf("goroutine 7 is not in the JSON")
		}
		if _, err := snapshot.Decode(bytes.NewReader(r.Stdout)); err != nil {
			t.Error(err)
		}
	})

	t.Run("dot", func(t *testing.T) {
		dot, err := exec.LookPath("dot")
		if err != nil {
			t.Skip("Graphviz dot is not installed")
		}
		for _, by := range []string{"origin", "label:tenant", "label:route"} {
			r := runGorigin(t, nil, nil, "dump", file, "--format", "dot", "--by", by)
			if r.Code != 0 {
				t.Fatalf("%v", r)
			}
			cmd := exec.Command(dot, "-Tsvg")
			cmd.Stdin = bytes.NewReader(r.Stdout)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			svg, err := cmd.Output()
			if err != nil || stderr.Len() > 0 {
				t.Errorf("--by %s: dot -Tsvg: %v\n%s\ninput:\n%q", by, err, stderr.Bytes(), r.Stdout)
				continue
			}
			if !bytes.Contains(svg, []byte(`main.spawn\u202egnp.exe`)) {
				t.Errorf("--by %s: the SVG does not show the escaped start function", by)
			}
		}
	})
}
