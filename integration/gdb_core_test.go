package integration

// Cores read through GDB: gorigin core --backend gdb must give the native core reader's
// snapshot of the same core, the native live snapshot taken just before the core was
// written, and the runtime's own debug=2 counts; and scripts/gorigin_gdb.py, loaded into
// gdb EXE CORE, must count what debug=2 counted.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// TestCoreGDBBackend makes the fixture dump core (GOTRACEBACK=crash, SIGQUIT) after a
// debug=2 dump and a native live snapshot, then reads the core with --backend gdb, with
// the native reader and with gorigin_gdb.py inside gdb.
func TestCoreGDBBackend(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	gdb := needGDB(t)
	script := gdbScript(t)
	vs := coreVariants
	if testing.Short() {
		vs = []variant{hostVariant(t)}
	}
	prebuild(fixtureDir(t), vs)
	for _, v := range vs {
		t.Run(v.String(), func(t *testing.T) {
			bin := fixtureBinary(t, v)
			e := expect(t, v, extraGoroutines)
			k := startCrashingFixture(t, bin)
			before := k.f.debug2(t)
			live, _ := attachJSON(t, k.f.Pid, nil, "--stacks")
			path := k.crash(t)

			viaGDB := coreJSON(t, path, k.f.Pid, "--stacks", "--backend", "gdb")
			native := coreJSON(t, path, k.f.Pid, "--stacks")
			if viaGDB.Source.Backend != "gdb" || native.Source.Backend != "native" {
				t.Errorf("source.backend %q and %q, want gdb and native", viaGDB.Source.Backend, native.Source.Backend)
			}
			if n := framesCompared(native, viaGDB); n < 50 {
				t.Errorf("only %d goroutines have stacks in both core snapshots", n)
			}
			sameCoreSnapshot(t, native.Goroutines, viaGDB.Goroutines)
			compareCoreWithLive(t, e, "gdb core", live, viaGDB)
			compareWithOracle(t, e, viaGDB, before, before, compareOptions{})

			out := runGDBScript(t, gdb, bin, path, "-x", script, "-ex", "goroutines-by-origin")
			checkTableCounts(t, e, "goroutines-by-origin on the core", out, before, before, true)

			// gorigin gdb CORE: an interactive gdb with the runtime-gdb.py of the target's
			// Go version and the embedded script, here fed commands on stdin.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, needGorigin(t), "gdb", path)
			cmd.Stdin = strings.NewReader("goroutines-by-origin\n")
			tmp := t.TempDir()
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			b, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("gorigin gdb %s: %v\n%s", path, err, b)
			}
			if left, _ := filepath.Glob(filepath.Join(tmp, "gorigin-gdb-*")); len(left) > 0 {
				t.Errorf("gorigin gdb left %v behind", left)
			}
			if !strings.Contains(string(b), "Loading Go Runtime support") {
				t.Errorf("gorigin gdb %s did not load runtime-gdb.py:\n%s", path, b)
			}
			checkTableCounts(t, e, "gorigin gdb CORE", string(b), before, before, true)
		})
	}
}

// sameCoreSnapshot requires two readings of one core to agree on every goroutine, field by
// field: there is nothing that may move.
func sameCoreSnapshot[G any](t *testing.T, native, viaGDB []G) {
	t.Helper()
	if len(native) != len(viaGDB) {
		t.Errorf("gdb backend read %d goroutines from the core, the native reader %d", len(viaGDB), len(native))
	}
	for i := range min(len(native), len(viaGDB)) {
		if !reflect.DeepEqual(native[i], viaGDB[i]) {
			t.Errorf("goroutine #%d differs:\n  native %s\n  gdb    %s", i, fmt.Sprintf("%+v", native[i]), fmt.Sprintf("%+v", viaGDB[i]))
		}
	}
}
