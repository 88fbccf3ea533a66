package reliability

import (
	"fmt"
	"math/rand/v2"

	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// TestGoriginKilled kills gorigin with SIGKILL at a random moment of an attach, again
// and again, with every backend: afterwards no thread of the service may be stopped or
// traced, and it must serve. The native backend's targets must be free at once (the
// kernel ends a PTRACE_SEIZE freeze with the tracer); GDB and Delve stop threads with
// SIGSTOP, and gorigin's stop guard (dbg/stopguard) resumes the target within seconds.
func TestGoriginKilled(t *testing.T) {
	t.Parallel() // after TestUnderLoad, which measures latency
	bin := needGorigin(t)
	testenv.NeedPtrace(t)
	s := startService(t, plainService(t), "-n", fmt.Sprint(idleWorkers))
	seed := uint64(time.Now().UnixNano())
	t.Logf("random kill moments from seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 9))
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			needBackend(t, b.name)
			// A whole attach gives the range of moments to kill in.
			_, r := attachJSON(t, s.Pid, b.flags...)
			typical := r.Elapsed
			n := count(100, 10)
			// Deadlines, not expectations: the kernel frees the target at once
			// (native); the stop guard polls for up to 5 s (delve, gdb). What it took is
			// logged; a busy machine may take longer to show it.
			within := 10 * time.Second
			if b.name == "delve" || b.name == "gdb" {
				n = count(100, 3)
				within = 30 * time.Second
			}
			args := append([]string{"attach", strconv.Itoa(s.Pid), "--format", "json"}, b.flags...)
			var mid int
			var slowest time.Duration
			for i := 0; i < n; i++ {
				delay := time.Duration(rng.Int64N(int64(typical)))
				finished, err := killAfter(bin, args, delay)
				if err != nil {
					t.Fatal(err)
				}
				if !finished {
					mid++
				}
				killed := time.Now()
				if bad := testenv.WaitFree(s.Pid, within); bad != nil {
					t.Fatalf("kill %d (after %v): the service is still stopped or traced %v later:\n  %s",
						i, delay.Round(time.Millisecond), within, strings.Join(bad, "\n  "))
				}
				slowest = max(slowest, time.Since(killed))
				s.checkServes(t)
			}
			t.Logf("%s: %d kills within a %v attach, %d before gorigin finished; the service ran freely at most %v after a kill",
				b.name, n, typical.Round(time.Millisecond), mid, slowest.Round(time.Millisecond))
		})
	}
	if st := s.stats(t); st.Goroutines < idleWorkers {
		t.Errorf("the service has %d goroutines after the kills, fewer than its %d idle ones", st.Goroutines, idleWorkers)
	}
}

// killAfter starts argv (the gorigin binary and args), sends it SIGKILL after delay, and
// reaps it; finished says whether it had exited by itself first.
func killAfter(bin string, args []string, delay time.Duration) (finished bool, err error) {
	cmd := exec.Command(bin, args...) // output to /dev/null: no pipe a child could hold open
	if err := cmd.Start(); err != nil {
		return false, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
		return true, nil
	case <-time.After(delay):
	}
	cmd.Process.Signal(syscall.SIGKILL) // by pid; it may just have exited
	<-done
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return !ws.Signaled(), nil
}

// A peer is another debugger put through the same experiment.
type peer struct {
	name string
	argv func(pid int) []string
	// stdin is what the session is fed.
	stdin string
}

var peers = []peer{
	{
		name: "dlv attach",
		argv: func(pid int) []string {
			return []string{"dlv", "attach", strconv.Itoa(pid), "--allow-non-terminal-interactive=true"}
		},
		stdin: "goroutines -group goloc\nexit\nn\n",
	},
	{
		name: "gdb -p",
		argv: func(pid int) []string {
			return []string{"gdb", "-nx", "-batch", "-p", strconv.Itoa(pid), "-ex", "info threads", "-ex", "thread apply all bt 3"}
		},
	},
}

// TestPeerDebuggerKilled kills dlv and gdb mid-session at random moments, as
// TestGoriginKilled kills gorigin, and records what happens to the target: left stopped
// (State T), still traced, not serving. Users want to know; it is logged, not judged.
// A target left stopped is continued (SIGCONT) before the next round, and each debugger
// runs in its own process group, which is killed afterwards (GDB forks helpers).
func TestPeerDebuggerKilled(t *testing.T) {
	t.Parallel() // after TestUnderLoad, which measures latency
	testenv.NeedPtrace(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("random kill moments from seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 10))
	for _, p := range peers {
		t.Run(strings.ReplaceAll(p.name, " ", "_"), func(t *testing.T) {
			if _, err := exec.LookPath(p.argv(0)[0]); err != nil {
				t.Skipf("%s is not on PATH (.ci/run installs it)", p.argv(0)[0])
			}
			s := startService(t, plainService(t), "-n", fmt.Sprint(idleWorkers))
			// A whole session gives the range of moments to kill in.
			start := time.Now()
			if _, err := peerSession(p, s.Pid, time.Minute); err != nil {
				t.Fatalf("a whole %s session: %v", p.name, err)
			}
			typical := time.Since(start)
			n := count(100, 3)
			var stopped, traced, silent, mid int
			for i := 0; i < n; i++ {
				delay := time.Duration(rng.Int64N(int64(typical)))
				finished, err := peerSession(p, s.Pid, delay)
				if err != nil {
					t.Fatal(err)
				}
				if !finished {
					mid++
				}
				time.Sleep(time.Second) // as long as gorigin's guard may take, and more than the kernel needs
				states, err := testenv.Threads(s.Pid)
				if err != nil {
					t.Fatalf("after kill %d: %v", i, err)
				}
				var isStopped, isTraced bool
				for _, st := range states {
					isStopped = isStopped || st.Stopped()
					isTraced = isTraced || st.TracerPid != 0
				}
				if isStopped {
					stopped++
				}
				if isTraced {
					traced++
				}
				if _, err := getWithin(s, 500*time.Millisecond); err != nil {
					silent++
				}
				if isStopped || isTraced {
					t.Logf("kill %d after %v: %s left the target %s", i, delay.Round(time.Millisecond), p.name, describe(states))
					syscall.Kill(s.Pid, syscall.SIGCONT) // our own target
					if bad := testenv.WaitFree(s.Pid, 5*time.Second); bad != nil {
						t.Fatalf("the target stays stopped or traced after SIGCONT: %s", strings.Join(bad, "; "))
					}
				}
			}
			t.Logf("%s killed %d times (%d mid-session, in a %v session): target left stopped %d times, traced %d times, not answering HTTP %d times",
				p.name, n, mid, typical.Round(time.Millisecond), stopped, traced, silent)
			s.checkServes(t)
		})
	}
}

// peerSession runs the peer debugger against pid in its own process group and kills the
// group after delay (or when it ends by itself); finished says whether it ended first.
// Its output goes to a file, not a pipe: a child GDB forks may outlive it.
func peerSession(p peer, pid int, delay time.Duration) (finished bool, err error) {
	argv := p.argv(pid)
	out, err := os.CreateTemp("", "gorigin-peer-")
	if err != nil {
		return false, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(p.stdin)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return false, err
	}
	pgid := cmd.Process.Pid
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
		finished = true
	case <-time.After(delay):
	}
	// The group is ours: the debugger and what it forked (GDB's ptrace probes stop
	// themselves and would stay behind).
	syscall.Kill(-pgid, syscall.SIGKILL)
	<-done
	if finished && cmd.ProcessState.ExitCode() != 0 {
		b, _ := os.ReadFile(out.Name())
		return true, fmt.Errorf("%s exited with status %d: %s", argv[0], cmd.ProcessState.ExitCode(), b)
	}
	return finished, nil
}

// getWithin fetches /work with a short timeout: a stopped target does not answer.
func getWithin(s *service, d time.Duration) ([]byte, error) {
	c := *s.client
	c.Timeout = d
	resp, err := c.Get("http://" + s.Addr + "/work?peer")
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return nil, nil
}

// describe summarises thread states: "3 threads: 3 T (stopped), tracer 0".
func describe(states []testenv.Thread) string {
	byState := map[string]int{}
	tracers := map[int]bool{}
	for _, s := range states {
		byState[s.State]++
		tracers[s.TracerPid] = true
	}
	var parts []string
	for st, n := range byState {
		parts = append(parts, fmt.Sprintf("%d %s", n, st))
	}
	var tp []string
	for p := range tracers {
		tp = append(tp, strconv.Itoa(p))
	}
	return fmt.Sprintf("%d threads: %s; TracerPid %s", len(states), strings.Join(parts, ", "), strings.Join(tp, ","))
}
