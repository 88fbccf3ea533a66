package integration

// gorigin killed while it holds a headless dlv's session halted: its guard continues the
// session, the process runs again, and dlv goes on serving other clients. A session that
// was halted before gorigin came is left halted.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

func TestDlvSessionKilledMidHalt(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: waits out the guard of a killed gorigin")
	}
	gor := needGorigin(t)
	testenv.NeedPtrace(t)
	dlv := needDlv(t)
	f := startFixture(t, fixtureBinary(t, hostVariant(t)), "-n", "3")
	addr := startHeadlessDlv(t, dlv, f.Pid)
	checkDlvState(t, addr, true)

	// holdAndKill runs gorigin attach --dlv with its freeze held, waits until it has done
	// what halted says (the session halted, or gorigin well into its run), and kills it.
	holdAndKill := func(t *testing.T, halted bool) (killed time.Time) {
		t.Helper()
		stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
		if err != nil {
			t.Fatal(err)
		}
		defer stderr.Close()
		cmd := exec.Command(gor, "attach", strconv.Itoa(f.Pid), "--dlv", addr)
		cmd.Env = append(os.Environ(), "GORIGIN_TEST_HOLD_FREEZE=30s")
		cmd.Stderr = stderr // a file: the guard, which outlives gorigin, writes there too
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) // ours, by pid
		if halted {
			c := dialDlv(t, addr)
			for deadline := time.Now().Add(30 * time.Second); ; {
				st, err := c.GetStateNonBlocking()
				if err != nil {
					t.Fatalf("dlv state: %v", err)
				}
				if !st.Running {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("gorigin (GORIGIN_TEST_HOLD_FREEZE=30s) never halted the dlv session")
				}
				time.Sleep(10 * time.Millisecond)
			}
			c.Disconnect(false)
			if states, err := testenv.Threads(f.Pid); err != nil || !states[0].Stopped() {
				t.Fatalf("dlv says halted, the fixture's main thread is %+v (%v)", states, err)
			}
		} else {
			time.Sleep(3 * time.Second) // gorigin has read the halted session by now
		}
		cmd.Process.Kill()
		cmd.Wait()
		killed = time.Now()
		if !halted {
			return killed
		}
		// The guard's note, once it is done.
		want := []byte("its guard continued it")
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if b, _ := os.ReadFile(stderr.Name()); bytes.Contains(b, want) {
				return killed
			}
		}
		b, _ := os.ReadFile(stderr.Name())
		t.Errorf("gorigin's stderr does not say the guard continued the session:\n%s", b)
		return killed
	}

	t.Run("running session", func(t *testing.T) {
		killed := holdAndKill(t, true)
		checkDlvState(t, addr, true) // running again, and dlv serves another client
		checkRunsUnderDebugger(t, f.Pid)
		f.checkAnswers(t)
		t.Logf("the session ran again %v after gorigin was killed", time.Since(killed).Round(time.Millisecond))
		checkNoGuards(t, addr)
		// dlv still serves gorigin, and the guard of a run that ends well ends with it.
		attachJSON(t, f.Pid, nil, "--dlv", addr)
		checkDlvState(t, addr, true)
		checkNoGuards(t, addr)
	})

	t.Run("session halted by another client", func(t *testing.T) {
		c := dialDlv(t, addr)
		if _, err := c.Halt(); err != nil {
			t.Fatalf("halt through dlv: %v", err)
		}
		holdAndKill(t, false)
		time.Sleep(guardWatchForTest)
		checkDlvState(t, addr, false) // gorigin halted nothing, so nothing continued it
		checkNoGuards(t, addr)
		c.Disconnect(true) // continue and go
		checkDlvState(t, addr, true)
		f.checkAnswers(t)
	})
}

// guardWatchForTest is longer than the guard watches a session after gorigin died.
const guardWatchForTest = 2 * time.Second

// checkNoGuards requires that no continue guard for the dlv at addr is left running.
func checkNoGuards(t *testing.T, addr string) {
	t.Helper()
	// The guard is gorigin's hidden command, named gorigin-dlv-guard in ps.
	want := []byte("gorigin-dlv-guard\x00__dlv-guard\x00" + addr + "\x00")
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var left []string
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			if cmdline, err := os.ReadFile(p); err == nil && bytes.Equal(cmdline, want) {
				left = append(left, filepath.Base(filepath.Dir(p)))
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("continue guards for %s still running: pids %v", addr, left)
			return
		}
	}
}
