package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestDumpCrashShowsPanic feeds gorigin dump the traceback of a program that panics
// (testdata/panicker, GOTRACEBACK=all), plain and inside a prefixed log: above the
// table it must show the runtime's panic message (the traceback's first line) and the
// goroutine the traceback shows first (the oracle's reading of the same text) with its
// innermost frame; JSON carries both. A hostile panic message reaches the terminal
// escaped.
func TestDumpCrashShowsPanic(t *testing.T) {
	needGorigin(t)
	text, orc := panickerTraceback(t, hostVariant(t))
	msg, _, _ := bytes.Cut(text, []byte("\n"))
	if len(orc) == 0 || len(orc[0].Frames) == 0 {
		t.Fatalf("the oracle reads no goroutine with frames:\n%s", text)
	}
	first := orc[0]
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var prefixed bytes.Buffer
	for _, line := range strings.SplitAfter(string(text), "\n") {
		if line != "" {
			prefixed.WriteString("2026-12-02T03:50:00Z app[42]: " + line)
		}
	}
	for _, path := range []string{write("panic.txt", text), write("panic.log", prefixed.Bytes())} {
		r := runGorigin(t, nil, "dump", path)
		if r.Code != 0 {
			t.Fatalf("%v", r)
		}
		above, _, ok := strings.Cut(string(r.Stdout), "COUNT ")
		want := []string{string(msg) + "\n", "goroutine " + strconv.FormatInt(first.ID, 10) + " [" + first.Status + "] crashed:\n", first.Frames[0].Func}
		for _, w := range want {
			if !ok || !strings.Contains(above, w) {
				t.Errorf("gorigin dump %s: above the table want %q:\n%s", filepath.Base(path), w, r.Stdout)
			}
		}
		snap := dumpJSON(t, path)
		if snap.Crash == nil || snap.Crash.Message != string(msg) || snap.Crash.Goroutine != first.ID {
			t.Errorf("gorigin dump %s --format json: crash %+v, want message %q and goroutine %d", filepath.Base(path), snap.Crash, msg, first.ID)
		}
	}

	hostile := bytes.Replace(text, msg, []byte("panic: \x1b]0;pwned\x07\x1b[2J wiped"), 1)
	r := runGorigin(t, nil, "dump", write("hostile.txt", hostile))
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	if bytes.ContainsAny(r.Stdout, "\x1b\x07") || !bytes.Contains(r.Stdout, []byte("pwned")) || !bytes.Contains(r.Stdout, []byte("wiped")) {
		t.Errorf("a hostile panic message must reach the terminal escaped, in full:\n%q", r.Stdout)
	}
	var crash *snapshot.Crash
	if s := dumpJSON(t, filepath.Join(dir, "hostile.txt")); s.Crash != nil {
		crash = s.Crash
	}
	if crash == nil || !strings.Contains(crash.Message, "\x1b]0;pwned") {
		t.Errorf("JSON must carry the message as the program wrote it (JSON escapes it): %+v", crash)
	}
}
