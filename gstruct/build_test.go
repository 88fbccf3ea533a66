package gstruct

import (
	"path/filepath"
	"testing"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// toolchains are the Go releases the fixture is built with ("local" is the go command on
// PATH, as it is).
var toolchains = testenv.Toolchains

// buildFixture builds testdata/target with a toolchain and extra go build flags (once for
// every test package of a run: see testenv) and returns the binary. It skips when the
// toolchain is not available.
func buildFixture(t testing.TB, toolchain string, flags ...string) string {
	t.Helper()
	return buildFixtureEnv(t, toolchain, nil, flags...)
}

// buildFixtureEnv is buildFixture with extra environment variables for the go command
// ("GOARCH=arm64").
func buildFixtureEnv(t testing.TB, toolchain string, env []string, flags ...string) string {
	t.Helper()
	if toolchain == "local" {
		toolchain = ""
	}
	return testenv.Binary(t, testenv.Build{Dir: filepath.Join("testdata", "target"), Toolchain: toolchain, Flags: flags, Env: env})
}
