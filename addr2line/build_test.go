package addr2line

import (
	"bytes"
	"debug/elf"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// toolchains are the Go releases the target programs are built with; the first is the
// one this test binary was built with.
var toolchains = []string{testenv.Host, testenv.Oldest, testenv.Newest}

// variants are the ways a target is built: go build flags, then environment variables.
// Only the amd64 ones can run here.
var variants = map[string][]string{
	"exe":      {"-buildmode=exe"},
	"stripped": {"-buildmode=exe", "-ldflags=-s -w"},
	"pie":      {"-buildmode=pie"},
	"arm64":    {"-buildmode=exe", "GOARCH=arm64"},
}

// buildProg builds testdata/prog with the given toolchain and variant (once for every
// test package of a run: see testenv) and returns the executable's path. It skips the
// test if the toolchain cannot be had.
func buildProg(t testing.TB, toolchain, variant string) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("target programs are ELF executables; GOOS is %s", runtime.GOOS)
	}
	b := testenv.Build{Dir: filepath.Join("testdata", "prog"), Toolchain: toolchain, Env: []string{"CGO_ENABLED=0"}}
	for _, v := range variants[variant] {
		if strings.HasPrefix(v, "-") {
			b.Flags = append(b.Flags, v)
		} else {
			b.Env = append(b.Env, v)
		}
	}
	return testenv.Binary(t, b)
}

// openTable opens a target with the package under test.
func openTable(t testing.TB, path string) *Table {
	t.Helper()
	tab, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return tab
}

// funcSymbols returns the FUNC symbols of an unstripped executable.
func funcSymbols(t testing.TB, path string) []elf.Symbol {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []elf.Symbol
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Size > 0 {
			out = append(out, s)
		}
	}
	return out
}

// printName is the oracle's own rendering of a symbol name the way the
// runtime prints it: a generic function's type arguments become "[...]".
func printName(sym string) string {
	open := strings.Index(sym, "[")
	end := strings.LastIndex(sym, "]")
	if open < 0 || end < open {
		return sym
	}
	return sym[:open] + "[...]" + sym[end+1:]
}

// runProg runs a built target with one argument and returns its stdout.
func runProg(t testing.TB, path, mode string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(path, mode)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", path, mode, err, stderr.String())
	}
	return string(out)
}
