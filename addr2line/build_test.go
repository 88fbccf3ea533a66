package addr2line

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// toolchains are the Go releases the target programs are built with; the
// first is the one this test binary was built with.
var toolchains = []string{"go1.26.8", "go1.20.14", "go1.27.3"}

// variants are the ways a target is built: go build flags, then
// environment variables. Only the amd64 ones can run here.
var variants = map[string][]string{
	"exe":      {"-buildmode=exe"},
	"stripped": {"-buildmode=exe", "-ldflags=-s -w"},
	"pie":      {"-buildmode=pie"},
	"arm64":    {"-buildmode=exe", "GOARCH=arm64"},
}

var (
	buildDir   string // shared by all tests of this package run
	buildMu    sync.Mutex
	buildCache = map[string]*built{}
)

type built struct {
	once sync.Once
	path string
	skip string // why the build is unavailable
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "addr2line-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildProg builds testdata/prog with the given toolchain and variant, once
// per test run, and returns the executable's path. It skips the test if the
// toolchain cannot be had (not in the module cache and no network).
func buildProg(t testing.TB, toolchain, variant string) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("target programs are ELF executables; GOOS is %s", runtime.GOOS)
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command in PATH to build the target programs: %v", err)
	}
	key := toolchain + "-" + variant
	buildMu.Lock()
	b := buildCache[key]
	if b == nil {
		b = &built{}
		buildCache[key] = b
	}
	buildMu.Unlock()
	b.once.Do(func() {
		b.path = filepath.Join(buildDir, "prog-"+key)
		args := []string{"build", "-o", b.path}
		env := append(os.Environ(), "GOTOOLCHAIN="+toolchain, "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0")
		for _, v := range variants[variant] {
			if strings.HasPrefix(v, "-") {
				args = append(args, v)
			} else {
				env = append(env, v)
			}
		}
		cmd := exec.Command(gobin, append(args, ".")...)
		cmd.Dir = filepath.Join("testdata", "prog")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		switch {
		case err != nil && toolchain != toolchains[0] && bytes.Contains(out, []byte("go: download")):
			b.skip = fmt.Sprintf("toolchain %s unavailable (run `GOTOOLCHAIN=%s go version` once with network access): %s", toolchain, toolchain, strings.TrimSpace(string(out)))
		case err != nil:
			b.err = fmt.Errorf("go build (%s, %s): %v\n%s", toolchain, variant, err, out)
		}
	})
	if b.skip != "" {
		t.Skip(b.skip)
	}
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
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
