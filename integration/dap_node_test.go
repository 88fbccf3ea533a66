package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// TestDAPWithVSCodeClient runs integration/dapclient/session.test.js: a session on the
// live fixture driven by @vscode/debugadapter-testsupport's DebugClient (a client written
// by others), which checks the group threads against the runtime's own dump, the stack
// that ends at the largest group's go statement, and that group's goroutines.
func TestDAPWithVSCodeClient(t *testing.T) {
	bin := needGorigin(t)
	testenv.NeedPtrace(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: .ci/run installs nodejs and npm")
	}
	dir, err := filepath.Abs("dapclient")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@vscode", "debugadapter-testsupport")); err != nil {
		t.Skip("integration/dapclient/node_modules is not installed: run npm ci there (.ci/run does)")
	}

	const extra = 200 // the largest group
	v := hostVariant(t)
	e := expect(t, v, extra)
	f := startFixture(t, fixtureBinary(t, v), "-n", strconv.Itoa(extra))
	before := f.debug2(t)
	perStatement := map[string]int{}
	largest, largestN := "", 0
	for o, ms := range e.selected(oracleGroups(before)) {
		perStatement[fmt.Sprintf("%s:%d", filepath.Base(o.File), o.Line)] += len(ms)
		if len(ms) > largestN {
			largest, largestN = o.String(), len(ms)
		}
	}
	if largestN != extra {
		t.Fatalf("the runtime's largest group is %s with %d goroutines, want the fixture's -n %d", largest, largestN, extra)
	}
	groups, _ := json.Marshal(perStatement)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "session.test.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GORIGIN_BIN="+bin,
		"FIXTURE_PID="+strconv.Itoa(f.Pid),
		"ORACLE_GROUPS="+string(groups),
		"LARGEST_GO="+largest,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test session.test.js: %v\n%s", err, out)
	}
	t.Logf("node --test session.test.js:\n%s", out)
	testenv.CheckRunsFreely(t, f.Pid, time.Second)
	f.checkAnswers(t)
}
