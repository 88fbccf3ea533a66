package gstruct

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// toolchains are the Go releases the fixture is built with ("local" is the one running
// the tests).
var toolchains = []string{"go1.20.14", "go1.22.12", "go1.24.13", "local", "go1.27.3"}

var (
	buildDir  string // fixture binaries, shared by the tests of one run
	buildMu   sync.Mutex
	buildDone = map[string]string{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gstruct-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildFixture builds testdata/target with a toolchain and extra go build flags, once per
// test run, and returns the binary. It skips when the toolchain is not available.
func buildFixture(t *testing.T, toolchain string, flags ...string) string {
	t.Helper()
	return buildFixtureEnv(t, toolchain, nil, flags...)
}

// buildFixtureEnv is buildFixture with extra environment variables for the go command
// ("GOARCH=arm64").
func buildFixtureEnv(t *testing.T, toolchain string, env []string, flags ...string) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH to build the fixture")
	}
	key := toolchain + " " + strings.Join(env, " ") + " " + strings.Join(flags, " ")
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := buildDone[key]; ok {
		return bin
	}
	bin := filepath.Join(buildDir, fmt.Sprintf("target-%d", len(buildDone)))
	args := append([]string{"build", "-o", bin}, flags...)
	cmd := exec.Command(goCmd, append(args, ".")...)
	cmd.Dir = filepath.Join("testdata", "target")
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "GOROOT" && k != "GOFLAGS" && k != "GOTOOLCHAIN" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GOTOOLCHAIN="+toolchain)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if toolchain != "local" && !toolchainCached(goCmd, toolchain) {
			t.Skipf("toolchain %s is not in the module cache and could not be fetched: %v\n%s", toolchain, err, out)
		}
		t.Fatalf("build fixture with %s %v: %v\n%s", toolchain, flags, err, out)
	}
	buildDone[key] = bin
	return bin
}

func toolchainCached(goCmd, toolchain string) bool {
	out, err := exec.Command(goCmd, "env", "GOMODCACHE").Output()
	if err != nil {
		return false
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "golang.org",
		fmt.Sprintf("toolchain@v0.0.1-%s.%s-%s", toolchain, runtime.GOOS, runtime.GOARCH))
	_, err = os.Stat(dir)
	return err == nil
}
