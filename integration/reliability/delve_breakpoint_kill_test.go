package reliability

import (
	"debug/elf"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// panickerBinary builds testdata/panicker (flags: "-buildmode=pie" or none).
func panickerBinary(t *testing.T, flags ...string) string {
	t.Helper()
	return testenv.Binary(t, testenv.Build{Dir: "testdata/panicker", Env: []string{"CGO_ENABLED=0"}, Flags: flags})
}

// textDiff compares the executable segments of exe (the oracle: the file as the linker
// wrote it) with the same bytes in the memory of process pid (read through /proc/PID/mem
// at the load bias from /proc/PID/maps), and names the function of every byte that
// differs: "runtime.throw+0x16: cc, executable has 48". None when they are equal.
func textDiff(t *testing.T, pid int, exe string) []string {
	t.Helper()
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bias := uint64(0)
	if f.Type == elf.ET_DYN {
		bias = pieBias(t, pid, exe, f)
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	syms, _ := f.Symbols()
	sort.Slice(syms, func(i, j int) bool { return syms[i].Value < syms[j].Value })
	name := func(addr uint64) string {
		i := sort.Search(len(syms), func(i int) bool { return syms[i].Value > addr }) - 1
		if i < 0 {
			return fmt.Sprintf("%#x", addr)
		}
		return fmt.Sprintf("%s+%#x", syms[i].Name, addr-syms[i].Value)
	}
	var out []string
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_X == 0 {
			continue
		}
		want := make([]byte, p.Filesz)
		if _, err := p.ReadAt(want, 0); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, p.Filesz)
		if _, err := mem.ReadAt(got, int64(p.Vaddr+bias)); err != nil {
			t.Fatalf("read the target's text at %#x: %v", p.Vaddr+bias, err)
		}
		for i := range want {
			if got[i] != want[i] && len(out) < 20 {
				out = append(out, fmt.Sprintf("%s: %02x, executable has %02x", name(p.Vaddr+uint64(i)), got[i], want[i]))
			}
		}
	}
	return out
}

// pieBias is the load bias of a PIE: where its executable segment is mapped, less its
// link-time address.
func pieBias(t *testing.T, pid int, exe string, f *elf.File) uint64 {
	t.Helper()
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_X == 0 {
			continue
		}
		for _, line := range strings.Split(string(maps), "\n") {
			fl := strings.Fields(line)
			if len(fl) < 6 || fl[5] != exe || !strings.Contains(fl[1], "x") {
				continue
			}
			lo, _, _ := strings.Cut(fl[0], "-")
			start, _ := strconv.ParseUint(lo, 16, 64)
			off, _ := strconv.ParseUint(fl[2], 16, 64)
			return start + (p.Off - off) - p.Vaddr
		}
	}
	t.Fatalf("no executable mapping of %s in pid %d", exe, pid)
	return 0
}

// waitTextRestored polls until the target's text equals the executable's: the guard
// writes it back after the kernel has detached the killed gorigin, which the test sees
// only as a running, untraced target. It returns the last difference on the deadline.
func waitTextRestored(t *testing.T, pid int, exe string, within time.Duration) []string {
	deadline := time.Now().Add(within)
	for {
		d := textDiff(t, pid, exe)
		if d == nil || time.Now().After(deadline) {
			return d
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkPanicMessage tells the panicker to panic and requires the runtime's own panic
// message and exit status 2: a leftover int3 in the crash path ends it with SIGTRAP.
func checkPanicMessage(t *testing.T, s *service) {
	t.Helper()
	if _, err := s.stdin.(io.Writer).Write([]byte("panic\n")); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
	ws := s.cmd.ProcessState.Sys().(syscall.WaitStatus)
	stderr := s.stderr.String()
	if ws.Signaled() || ws.ExitStatus() != 2 || !strings.Contains(stderr, "panic: gorigin-panicker: deliberate panic") {
		t.Errorf("the target's panic: %v (signal %v), want exit status 2 with the runtime's panic message; stderr:\n%.600s", s.cmd.ProcessState, ws.Signal(), stderr)
	}
}

// TestDelveKilledWithBreakpoints: gorigin --backend delve killed while Delve's attach has
// its int3s in the runtime's crash functions (held there by GORIGIN_TEST_HOLD_BREAKPOINTS)
// leaves the target's code as the executable has it — the stop guard writes the original
// code back — and a panic afterwards prints the runtime's message, not SIGTRAP. Then, in
// another target, gorigin is killed at random moments of whole attaches, and after each
// kill the target's code must again equal the executable's, and its panic print the
// message. Both for a fixed-address executable and a PIE (where the guard's addresses
// include the load bias).
func TestDelveKilledWithBreakpoints(t *testing.T) {
	t.Parallel()
	bin := needGorigin(t)
	testenv.NeedPtrace(t)
	needBackend(t, "delve")
	seed := uint64(time.Now().UnixNano())
	t.Logf("random kill moments from seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 17))
	for _, build := range []struct {
		name  string
		flags []string
	}{{"exe", nil}, {"pie", []string{"-buildmode=pie"}}} {
		exe := panickerBinary(t, build.flags...)
		t.Run(build.name+"/held with breakpoints in", func(t *testing.T) {
			s := startService(t, exe)
			cmd := exec.Command(bin, "attach", strconv.Itoa(s.Pid), "--format", "json", "--backend", "delve")
			cmd.Env = append(os.Environ(), "GORIGIN_TEST_HOLD_BREAKPOINTS=1m")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			t.Cleanup(func() { cmd.Process.Kill(); <-done })
			// Four: runtime.throw, fatal, fatalsignal, and fatalpanic (or startpanic).
			var written []string
			for deadline := time.Now().Add(time.Minute); len(written) < 4; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("Delve's attach wrote %d breakpoints into the target within a minute, want 4: %v", len(written), written)
				}
				written = textDiff(t, s.Pid, exe)
			}
			t.Logf("Delve's attach wrote into the target: %s", strings.Join(written, "; "))
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			if d := waitTextRestored(t, s.Pid, exe, 15*time.Second); d != nil {
				t.Errorf("after gorigin was killed with Delve's breakpoints in, the target's code differs from the executable's:\n  %s", strings.Join(d, "\n  "))
			}
			if bad := testenv.WaitFree(s.Pid, 8*time.Second); bad != nil {
				t.Fatalf("the target is still stopped or traced: %v", bad)
			}
			checkPanicMessage(t, s)
		})
		t.Run(build.name+"/random moments", func(t *testing.T) {
			s := startService(t, exe)
			args := []string{"attach", strconv.Itoa(s.Pid), "--format", "json", "--backend", "delve"}
			_, r := attachJSON(t, s.Pid, "--backend", "delve")
			typical := r.Elapsed
			n, mid := count(100, 4), 0
			for i := 0; i < n; i++ {
				delay := time.Duration(rng.Int64N(int64(typical)))
				finished, err := killAfter(bin, args, delay)
				if err != nil {
					t.Fatal(err)
				}
				if !finished {
					mid++
				}
				if bad := testenv.WaitFree(s.Pid, 8*time.Second); bad != nil {
					t.Fatalf("kill %d (after %v): the target is still stopped or traced: %v", i, delay, bad)
				}
				if d := waitTextRestored(t, s.Pid, exe, 15*time.Second); d != nil {
					t.Errorf("kill %d (after %v): the target's code differs from the executable's:\n  %s", i, delay.Round(time.Millisecond), strings.Join(d, "\n  "))
					break
				}
			}
			t.Logf("%d kills within a %v attach, %d before gorigin finished", n, typical.Round(time.Millisecond), mid)
			checkPanicMessage(t, s)
		})
	}
}
