package integration

// A GDB that dies, hangs or prints garbage while it holds the target frozen: gorigin
// attach --backend gdb must fail with a message that says what happened, within a few
// MI timeouts, and leave the target running, untraced and answering.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// faultyGDB stands in for gdb on PATH: it runs the real gdb and passes the MI session
// through until the second -data-read-memory-bytes after -exec-interrupt (the target is
// frozen then), where it misbehaves as $FAKE_GDB_MODE says. It writes the real gdb's pid
// to $FAKE_GDB_PID and, when it misbehaves, the mode to $FAKE_GDB_FIRED.
const faultyGDB = `#!/bin/bash
d=$(mktemp -d) || exit 1
mkfifo "$d/in" || exit 1
"$FAKE_GDB_REAL" "$@" <"$d/in" &
gdb=$!
echo "$gdb" >"$FAKE_GDB_PID"
exec 3>"$d/in"
rm -rf "$d"
frozen=0
n=0
while IFS= read -r line; do
  case "$line" in
  *-exec-interrupt*) frozen=1 ;;
  *-data-read-memory-bytes*)
    if [ "$frozen" = 1 ]; then n=$((n+1)); fi
    if [ "$n" -ge 2 ]; then
      echo "$FAKE_GDB_MODE" >"$FAKE_GDB_FIRED"
      tok=${line%%-*}
      case "$FAKE_GDB_MODE" in
      die) echo "fake gdb: dying mid-session" >&2; kill -9 "$gdb"; exit 139 ;;
      hang) exec sleep 100000 ;;
      garbage) printf '%s\n' '}}}} not MI {{{{' 'Segmentation fault (core dumped)?' "${tok}^done,memory=[{begin="; exec sleep 100000 ;;
      badanswer) printf '%s\n' "${tok}^done,memory=[{begin=\"0x10\",offset=\"0x0\",end=\"0x20\",contents=\"zz-not-hex\"}]"; continue ;;
      esac
    fi ;;
  esac
  printf '%s\n' "$line" >&3
done
`

// TestGDBBackendFaultyGDB runs gorigin attach --backend gdb through a GDB that dies, hangs,
// prints non-MI garbage, or answers a read with a malformed result, mid-freeze.
func TestGDBBackendFaultyGDB(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: waits out an MI timeout per faulty gdb")
	}
	needGorigin(t)
	testenv.NeedPtrace(t)
	real := needGDB(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash to run the faulty gdb")
	}
	if _, err := exec.LookPath("mkfifo"); err != nil {
		t.Skip("no mkfifo to run the faulty gdb")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gdb"), []byte(faultyGDB), 0o755); err != nil {
		t.Fatal(err)
	}
	const timeout = 5 * time.Second // per MI command; gdb's own start under load takes seconds
	f := startFixture(t, fixtureBinary(t, hostVariant(t)), "-n", "3")
	for _, tc := range []struct{ mode, want string }{
		{"die", "dying mid-session"},         // GDB's last words on stderr
		{"hang", "did not answer in time"},   // the MI timeout
		{"garbage", "not GDB/MI"},            // what it printed instead
		{"badanswer", "gdb answered a read"}, // a result record that does not hold what was asked
	} {
		t.Run(tc.mode, func(t *testing.T) {
			pidFile, fired := filepath.Join(t.TempDir(), "pid"), filepath.Join(t.TempDir(), "fired")
			r := runGorigin(t, []string{
				"PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH"),
				"FAKE_GDB_REAL=" + real, "FAKE_GDB_MODE=" + tc.mode,
				"FAKE_GDB_PID=" + pidFile, "FAKE_GDB_FIRED=" + fired,
				"GORIGIN_GDB_TIMEOUT=" + timeout.String(),
			}, "attach", strconv.Itoa(f.Pid), "--backend", "gdb")
			if b, err := os.ReadFile(fired); err != nil || strings.TrimSpace(string(b)) != tc.mode {
				t.Fatalf("the faulty gdb never misbehaved (%v): the test proves nothing\n%v", err, r)
			}
			if r.Code == 0 || !strings.Contains(string(r.Stderr), tc.want) {
				t.Errorf("want a failure that says %q, got %v", tc.want, r)
			}
			// Counted in MI timeouts: one is what giving up takes; a gorigin that
			// waits again after each failure (it once took 65 s) takes many. The
			// 30 s beyond is for gdb's own start and attach on a busy machine.
			if limit := 4*timeout + 30*time.Second; r.Elapsed > limit {
				t.Errorf("gorigin took %v to give up (limit %v)", r.Elapsed.Round(time.Millisecond), limit)
			}
			testenv.CheckRunsFreely(t, f.Pid, 2*time.Second)
			checkNoGDBLeft(t, f.Pid)
			f.checkAnswers(t)
			if b, err := os.ReadFile(pidFile); err == nil {
				if gdbPid, _ := strconv.Atoi(strings.TrimSpace(string(b))); gdbPid > 0 {
					checkGone(t, gdbPid, 2*time.Second)
				}
			}
			t.Logf("%s: %s after %v", tc.mode, strings.TrimSpace(string(r.Stderr)), r.Elapsed.Round(time.Millisecond))
		})
	}
}

// checkGone fails if pid is still a live process (a zombie counts as gone) after within.
func checkGone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, err := testenv.StatState(pid, pid)
		if err != nil || st == "Z" || st == "X" {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("the real gdb (pid %d) is still running (state %s) after gorigin exited", pid, st)
			syscall.Kill(pid, syscall.SIGKILL)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
