package integration

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// goroutinesByOriginRow is a row of the goroutines-by-origin table:
// COUNT STATE FUNC FILE:LINE START EXAMPLES.
var goroutinesByOriginRow = regexp.MustCompile(`^\s*(\d+)\s.*\s(\S+)\s+(\S+):(\d+)\s+(\S+)\s+[\d ]+$`)

// TestGDBScriptGoroutinesByOrigin runs scripts/gorigin_gdb.py inside the real gdb against
// the fixture and compares its per-origin counts with the runtime's debug=2 dump.
func TestGDBScriptGoroutinesByOrigin(t *testing.T) {
	needPtrace(t)
	gdb := needGDB(t)
	script, err := filepath.Abs("../scripts/gorigin_gdb.py")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []variant{hostVariant(t), {Toolchain: "go1.20.14"}} {
		t.Run(v.String(), func(t *testing.T) {
			e := expect(t, v, extraGoroutines)
			f := startFixture(t, fixtureBinary(t, v), "-n", strconv.Itoa(extraGoroutines))
			before := f.debug2(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, gdb, "-batch", "-nx", "-p", strconv.Itoa(f.Pid),
				"-iex", "set debuginfod enabled off", "-iex", "set auto-load no",
				"-ex", "source "+script, "-ex", "goroutines-by-origin")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("gdb: %v\n%s", err, out)
			}
			checkRunsFreely(t, f.Pid, 100*time.Millisecond)
			after := f.debug2(t)

			got := map[origin]int{}
			for _, line := range strings.Split(string(out), "\n") {
				m := goroutinesByOriginRow.FindStringSubmatch(line)
				if m == nil {
					continue
				}
				n, _ := strconv.Atoi(m[1])
				l, _ := strconv.Atoi(m[4])
				got[origin{m[3], l}] += n
			}
			orc, orcAfter := e.selected(oracleGroups(before)), e.selected(oracleGroups(after))
			if len(orc) == 0 {
				t.Fatal("the oracle shows no fixture goroutines")
			}
			for o, ms := range orc {
				name := e.name(o)
				if len(ms) != len(orcAfter[o]) {
					t.Logf("%s (%s): %d goroutines before, %d after: not compared", name, o, len(ms), len(orcAfter[o]))
					continue
				}
				if got[o] != len(ms) {
					t.Errorf("%s (%s): goroutines-by-origin counts %d, the runtime %d", name, o, got[o], len(ms))
				}
			}
			if t.Failed() {
				t.Logf("gdb output:\n%s", out)
			}
		})
	}
}
