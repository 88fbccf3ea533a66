package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/gorigin-dev/gorigin/internal/goversion"
)

// Toolchains are the Go releases whose binaries the end-to-end tests build and attach to:
// the oldest supported release, every other release in between, the host's and the
// newest. .ci/run downloads each of them.
var Toolchains = []string{"go1.20.14", "go1.22.12", "go1.24.13", "go1.26.8", "go1.27.3"}

// Releases are the newest patch release of every supported Go minor version: gorigin's
// built-in runtime layouts are generated from, and checked against, each one.
var Releases = []string{"go1.20.14", "go1.21.13", "go1.22.12", "go1.23.12", "go1.24.13", "go1.25.9", "go1.26.8", "go1.27.3"}

// Oldest, Host and Newest are the three toolchains most tests that need more than one
// compare: the oldest supported release, the release of the go command on PATH (go.mod's
// toolchain) and the newest.
const (
	Oldest = "go1.20.14"
	Host   = "go1.26.8"
	Newest = "go1.27.3"
)

// Minor is the Go minor version of a toolchain name: 20 for "go1.20.14", 0 if it is not
// one (internal/goversion's reading).
func Minor(toolchain string) int { return int(goversion.Parse(toolchain)) }

var missing struct {
	sync.Mutex
	why map[string]string // toolchain → why it cannot run ("" when it can)
}

// Missing says why toolchain cannot build here ("" when it can): it is neither the go
// command on PATH nor in the module cache, and could not be downloaded. The answer is
// asked once per toolchain and process.
func Missing(toolchain string) string {
	missing.Lock()
	defer missing.Unlock()
	if why, ok := missing.why[toolchain]; ok {
		return why
	}
	if missing.why == nil {
		missing.why = map[string]string{}
	}
	why := ""
	cmd := exec.Command("go", "version")
	cmd.Dir = os.TempDir() // outside any module, so no go.mod's go line plays a part
	cmd.Env = goEnv(toolchain, nil)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte(toolchain+" ")) {
		why = fmt.Sprintf("GOTOOLCHAIN=%s go version: %v: %s (.ci/run downloads the toolchains)", toolchain, err, bytes.TrimSpace(out))
	}
	missing.why[toolchain] = why
	return why
}

// goEnv is the environment of a go command run for toolchain ("" keeps the caller's
// choice): the caller's GOFLAGS, GOWORK and GOROOT kept out, extra appended last.
func goEnv(toolchain string, extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "GOFLAGS", "GOWORK", "GOROOT", "GOTOOLCHAIN":
		default:
			env = append(env, kv)
		}
	}
	if toolchain != "" {
		env = append(env, "GOTOOLCHAIN="+toolchain)
	}
	env = append(env, "GOFLAGS=", "GOWORK=off", "GO111MODULE=on")
	return append(env, extra...)
}
