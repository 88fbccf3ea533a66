package integration

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// strippedVariants are the builds attached to without symbols or DWARF: the oldest, the
// local and the newest release, exe and PIE, one with cgo (external linking).
var strippedVariants = []variant{
	{Toolchain: "go1.20.14"},
	{Toolchain: "go1.20.14", PIE: true},
	{Toolchain: "go1.26.8"},
	{Toolchain: "go1.26.8", PIE: true, Cgo: true},
	{Toolchain: "go1.27.3"},
	{Toolchain: "go1.27.3", PIE: true},
}

// TestAttachStripped attaches to the fixture built with -ldflags='-s -w' (no symbol table,
// no DWARF) and compares gorigin's goroutines with the runtime's own dump exactly as
// TestAttach does for unstripped builds.
func TestAttachStripped(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	for _, v := range strippedVariants {
		t.Run(v.String()+"-stripped", func(t *testing.T) {
			bin := strippedFixture(t, v)
			checkStripped(t, bin)
			testAttach(t, v, bin, extraGoroutines)
		})
	}
}

// TestAttachStrippedTooNew attaches to a stripped fixture whose build info claims a Go
// release newer than gorigin's built-in layouts: exit status 2, and a message that says
// what to do. The process must run on.
func TestAttachStrippedTooNew(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	v := hostVariant(t)
	newer := "go1.99" + v.Toolchain[len("go1.NN"):] // as long as the real version
	bin := withGoVersion(t, strippedFixture(t, v), newer)
	f := startFixture(t, bin)
	r := runGorigin(t, nil, "attach", strconv.Itoa(f.Pid))
	want := "built-in layouts cover Go 1.20–1.27; this binary is " + newer + ": build it with DWARF (without -ldflags=-w) or use a newer gorigin"
	if r.Code != 2 || !bytes.Contains(r.Stderr, []byte(want)) {
		t.Errorf("%v\nwant exit status 2 and %q", r, want)
	}
	testenv.CheckRunsFreely(t, f.Pid, 100*time.Millisecond)
}

// withGoVersion copies exe with the Go version in its build info replaced by another of
// the same length (the runtime's own runtime.Version is elsewhere: the program still runs).
func withGoVersion(t *testing.T, exe, version string) string {
	t.Helper()
	bi, err := buildinfo.ReadFile(exe)
	if err != nil || len(bi.GoVersion) != len(version) {
		t.Fatalf("build info %v, %v: cannot put %s in place of its Go version", bi, err, version)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("\xff Go buildinf:"))
	j := bytes.Index(data[max(i, 0):], []byte(bi.GoVersion))
	if i < 0 || j < 0 || j > 64 {
		t.Fatalf("no Go version %s right after the build info magic of %s", bi.GoVersion, exe)
	}
	copy(data[i+j:], version)
	out := filepath.Join(t.TempDir(), filepath.Base(exe)+"-"+version)
	if err := os.WriteFile(out, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if bi, err := buildinfo.ReadFile(out); err != nil || bi.GoVersion != version {
		t.Fatalf("patched build info: %v, %v", bi, err)
	}
	return out
}

// checkStripped makes sure bin really has neither a symbol table nor DWARF, so that the
// test cannot pass on a build that kept them.
func checkStripped(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, s := range []string{".symtab", ".debug_info", ".zdebug_info"} {
		if f.Section(s) != nil {
			t.Fatalf("%s has a %s section: it is not stripped", bin, s)
		}
	}
}

// strippedFixture builds the fixture as v with -ldflags='-s -w'.
func strippedFixture(t *testing.T, v variant) string {
	t.Helper()
	return testenv.Binary(t, v.build(fixtureDir(t), "-ldflags=-s -w"))
}
