package integration

// scripts/gorigin.star inside the real dlv: the origins command's per-go-statement counts
// must be the runtime's debug=2 counts, on a live process (dlv attach, which must leave it
// running) and on a core (dlv core).

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// delveRefusal is how Delve says no to a Go release ("Go version 1.20.14 is too old for this
// version of Delve (minimum supported version 1.25, ...)" or "Version of Delve is too old
// for Go version ...").
var delveRefusal = regexp.MustCompile(`(?m)^.*(is too old for this version of Delve|Version of Delve is too old).*$`)

// runDlv runs dlv with args and the terminal commands on its stdin, and returns its output.
// It skips the test when Delve refuses the target's Go version.
func runDlv(t *testing.T, dlv string, commands []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dlv, append(args, "--allow-non-terminal-interactive=true")...)
	cmd.Stdin = strings.NewReader(strings.Join(commands, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if m := delveRefusal.Find(out); m != nil {
		t.Skipf("Delve refuses this target: %s", m)
	}
	if err != nil {
		t.Fatalf("dlv %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestDelveScriptOrigins sources scripts/gorigin.star into dlv attached to the fixture (and
// into dlv core on a core of it) and compares the origins table with debug=2.
func TestDelveScriptOrigins(t *testing.T) {
	testenv.NeedPtrace(t)
	dlv := needDlv(t)
	script, err := filepath.Abs("../scripts/gorigin.star")
	if err != nil {
		t.Fatal(err)
	}
	vs := scriptVariants
	if testing.Short() {
		vs = []variant{hostVariant(t)}
	}
	prebuild(fixtureDir(t), vs)
	for _, v := range vs {
		t.Run(v.String(), func(t *testing.T) {
			bin := fixtureBinary(t, v)
			t.Run("attach", func(t *testing.T) {
				e := expect(t, v, extraGoroutines)
				f := startFixture(t, bin, "-n", strconv.Itoa(extraGoroutines))
				before := f.debug2(t)
				// quit, and "n" to "Would you like to kill the process?": dlv detaches.
				out := runDlv(t, dlv, []string{"source " + script, "origins", "quit", "n"}, "attach", strconv.Itoa(f.Pid))
				testenv.CheckRunsFreely(t, f.Pid, 100*time.Millisecond)
				checkNoGDBLeft(t, f.Pid)
				after := f.debug2(t)
				f.checkAnswers(t)
				checkTableCounts(t, e, "origins", out, before, after, true)
				checkOriginsOptions(t, dlv, script, out, "attach", strconv.Itoa(f.Pid))
			})
			t.Run("core", func(t *testing.T) {
				e := expect(t, v, extraGoroutines)
				k := startCrashingFixture(t, bin)
				before := k.f.debug2(t)
				path := k.crash(t)
				out := runDlv(t, dlv, []string{"source " + script, "origins", "quit"}, "core", bin, path)
				checkTableCounts(t, e, "origins on the core", out, before, before, true)
			})
		})
	}
}

// checkOriginsOptions runs origins --top 3 and origins --by start and checks them against
// the full table: the three largest groups, and the same total.
func checkOriginsOptions(t *testing.T, dlv, script, full string, args ...string) {
	t.Helper()
	out := runDlv(t, dlv, []string{"source " + script, "origins --top 3", "origins --by start", "origins --by nonsense", "quit", "n"}, args...)
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		if goroutinesByOriginRow.MatchString(line) {
			rows++
		}
	}
	if rows != 3 {
		t.Errorf("origins --top 3 printed %d go-statement rows, want 3:\n%s", rows, out)
	}
	totals := regexp.MustCompile(`(\d+) goroutines in \d+ groups`).FindAllStringSubmatch(out+full, -1)
	if len(totals) != 3 || totals[0][1] != totals[2][1] || totals[1][1] != totals[2][1] {
		t.Errorf("totals %v: --top and --by start should count what origins counts", totals)
	}
	if !strings.Contains(out, "usage: origins") {
		t.Errorf("origins --by nonsense did not print the usage:\n%s", out)
	}
}
