package reliability

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// TestDAPLoopbackOnly: gorigin dap opens no port at all on stdin/stdout; with --listen
// it listens only where told, loopback unless --allow-remote says otherwise. The
// listening sockets are read from the kernel (/proc/PID/net/tcp*), not from gorigin's
// own output.
func TestDAPLoopbackOnly(t *testing.T) {
	t.Parallel() // after the load and kill tests, which measure latency
	bin := needGorigin(t)
	t.Run("stdio", func(t *testing.T) {
		cmd, _ := startDAP(t, bin, false)
		time.Sleep(300 * time.Millisecond) // time to open a socket, if it were to
		if ls := listeningSockets(t, cmd.Process.Pid); len(ls) != 0 {
			t.Errorf("gorigin dap on stdin/stdout listens on %v", ls)
		}
	})
	t.Run("--listen localhost:0", func(t *testing.T) {
		cmd, where := startDAP(t, bin, true, "--listen", "localhost:0")
		ls := listeningSockets(t, cmd.Process.Pid)
		if len(ls) == 0 {
			t.Fatalf("gorigin dap says it listens on %s, the kernel shows no listening socket", where)
		}
		for _, a := range ls {
			if !a.IP.IsLoopback() {
				t.Errorf("gorigin dap --listen localhost:0 listens on %v, not a loopback address", a)
			}
		}
		t.Logf("listens on %v", ls)
	})
	t.Run("--listen 0.0.0.0:0 is refused", func(t *testing.T) {
		r := runGorigin(t, nil, nil, "dap", "--listen", "0.0.0.0:0")
		checkRun(t, r, 2, []string{"not a loopback address", "--allow-remote"})
	})
	t.Run("--listen 0.0.0.0:0 --allow-remote warns", func(t *testing.T) {
		cmd, _ := startDAP(t, bin, true, "--listen", "0.0.0.0:0", "--allow-remote")
		ls := listeningSockets(t, cmd.Process.Pid)
		if len(ls) != 1 || !ls[0].IP.IsUnspecified() {
			t.Errorf("gorigin dap --listen 0.0.0.0:0 --allow-remote listens on %v, want 0.0.0.0", ls)
		}
	})
}

var listeningRE = regexp.MustCompile(`gorigin dap: listening on (\S+)`)

// startDAP starts "gorigin dap args..." (Cleanup kills it, by pid); with listen, waits for
// its "listening on" line and returns the address, and requires a warning when the
// address is not loopback.
func startDAP(t *testing.T, bin string, listen bool, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"dap"}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	if !listen {
		go io.Copy(io.Discard, stderr)
		return cmd, ""
	}
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen []string
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("gorigin dap %v ended without saying where it listens: %q", args, seen)
			}
			seen = append(seen, line)
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				host, _, _ := net.SplitHostPort(m[1])
				ip := net.ParseIP(host)
				warned := strings.Contains(strings.Join(seen, "\n"), "WARNING")
				if ip != nil && !ip.IsLoopback() && !warned {
					t.Errorf("gorigin dap listens on %s without a warning: %q", m[1], seen)
				}
				go func() {
					for range lines {
					}
				}()
				return cmd, m[1]
			}
		case <-timeout:
			t.Fatalf("gorigin dap %v did not say where it listens: %q", args, seen)
		}
	}
}

// listeningSockets are the TCP sockets in LISTEN state that pid holds open, from
// /proc/PID/fd and /proc/PID/net/tcp{,6}.
func listeningSockets(t *testing.T, pid int) []*net.TCPAddr {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if ino, ok := strings.CutPrefix(l, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	var out []*net.TCPAddr
	for _, file := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, file))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] { // 0A: TCP_LISTEN
				continue
			}
			out = append(out, parseProcAddr(t, f[1]))
		}
	}
	return out
}

// parseProcAddr parses "0100007F:1F90" (IPv4) or the 32-hex-digit IPv6 form: the address
// in the kernel's byte order, 32 bits at a time.
func parseProcAddr(t *testing.T, s string) *net.TCPAddr {
	h, p, _ := strings.Cut(s, ":")
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		t.Fatalf("bad address %q in /proc/net/tcp", s)
	}
	for i := 0; i < len(raw); i += 4 { // each 32-bit word is little-endian
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, _ := strconv.ParseUint(p, 16, 16)
	return &net.TCPAddr{IP: net.IP(raw), Port: int(port)}
}

// TestAttachWritesNothing: with the service stopped by the test (SIGSTOP), every
// readable byte of its memory (read through /proc/PID/mem) and the stack pointer and
// program counter of every thread (/proc/PID/task/TID/syscall) are the same before and
// after a gorigin attach, with every backend. A stopped target also shows that gorigin
// leaves it as it found it: still stopped.
func TestAttachWritesNothing(t *testing.T) {
	t.Parallel() // after the load and kill tests, which measure latency
	needGorigin(t)
	testenv.NeedPtrace(t)
	seed := maphash.MakeSeed()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			needBackend(t, b.name)
			s := startService(t, plainService(t), "-n", fmt.Sprint(idleWorkers))
			if err := syscall.Kill(s.Pid, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			defer syscall.Kill(s.Pid, syscall.SIGCONT)
			if err := waitAllStopped(s.Pid, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			before := memoryImage(t, s.Pid, seed)
			r := runGorigin(t, nil, nil, append([]string{"attach", strconv.Itoa(s.Pid), "--format", "json"}, b.flags...)...)
			if r.Code != 0 {
				t.Fatalf("%v", r)
			}
			checkIdle(t, decodeSnapshot(t, r))
			resumed := waitAllStopped(s.Pid, time.Second)
			if resumed != nil {
				syscall.Kill(s.Pid, syscall.SIGSTOP) // so that what follows compares a stopped process
				if err := waitAllStopped(s.Pid, 10*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			after := memoryImage(t, s.Pid, seed)
			switch {
			case resumed == nil && b.name == "delve":
				// Delve's detach sends SIGCONT to a process it finds stopped (State T) 50 ms
				// after detaching (pkg/proc/native detach); dbg/delve stops it again at
				// once, but it ran for that moment, so only what it cannot change itself is
				// compared — the read-only and executable mappings, where Delve puts its
				// breakpoints.
				if d := before.diff(after, true); d != "" {
					t.Errorf("the target's read-only or executable memory changed across a gorigin attach:\n%s", d)
				}
			case resumed != nil:
				t.Errorf("gorigin resumed a target the test had stopped: %v", resumed)
			default:
				if d := before.diff(after, false); d != "" {
					t.Errorf("the target changed across a gorigin attach:\n%s", d)
				}
			}
			t.Logf("%d regions, %d MB and %d threads' sp/pc compared", len(before.regions), before.bytes>>20, len(before.regs))
			syscall.Kill(s.Pid, syscall.SIGCONT)
			testenv.CheckRunsFreely(t, s.Pid, 5*time.Second)
			s.checkServes(t)
		})
	}
}

// An image is a stopped process's memory and registers, hashed.
type image struct {
	regions map[string]uint64 // "start-end perms path" → hash of the bytes
	regs    map[string]string // tid → /proc/PID/task/TID/syscall (sp and pc)
	bytes   int64
}

func memoryImage(t *testing.T, pid int, seed maphash.Seed) image {
	t.Helper()
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	img := image{regions: map[string]uint64{}, regs: map[string]string{}}
	buf := make([]byte, 1<<20)
	for _, line := range strings.Split(strings.TrimSpace(string(maps)), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[1][0] != 'r' || strings.Contains(line, "[vvar") || strings.Contains(line, "[vsyscall]") {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		start, _ := strconv.ParseUint(lo, 16, 64)
		end, _ := strconv.ParseUint(hi, 16, 64)
		var h maphash.Hash
		h.SetSeed(seed)
		for off := start; off < end; {
			n := min(uint64(len(buf)), end-off)
			k, err := mem.ReadAt(buf[:n], int64(off))
			h.Write(buf[:k])
			if err != nil {
				fmt.Fprintf(&h, "unreadable at %#x: %v", off+uint64(k), err)
				break
			}
			off += n
		}
		img.regions[line] = h.Sum64()
		img.bytes += int64(end - start)
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/syscall", pid, task.Name()))
		if err == nil {
			img.regs[task.Name()] = strings.TrimSpace(string(b))
		}
	}
	return img
}

// diff describes how two images differ ("" if they do not); readOnly compares only
// the mappings the process cannot write itself, and no registers.
func (a image) diff(b image, readOnly bool) string {
	var out []string
	for r, h := range a.regions {
		if readOnly && strings.Fields(r)[1][1] == 'w' {
			continue
		}
		if hb, ok := b.regions[r]; !ok {
			out = append(out, "gone: "+r)
		} else if hb != h {
			out = append(out, "bytes differ: "+r)
		}
	}
	for r := range b.regions {
		if _, ok := a.regions[r]; !ok && !(readOnly && strings.Fields(r)[1][1] == 'w') {
			out = append(out, "new: "+r)
		}
	}
	if readOnly {
		return strings.Join(out, "\n")
	}
	for tid, s := range a.regs {
		if b.regs[tid] != s {
			out = append(out, fmt.Sprintf("thread %s: %q, now %q", tid, s, b.regs[tid]))
		}
	}
	return strings.Join(out, "\n")
}

// TestGDBSafePathNeverWidened runs the GDB backend through a gdb on PATH that records its
// command line and everything gorigin sends it, then runs the real GDB. GDB must start
// without init files (-nx), and nothing may widen its auto-load safe-path or turn
// auto-loading on: a target binary is untrusted and may name scripts for GDB to run.
func TestGDBSafePathNeverWidened(t *testing.T) {
	t.Parallel() // after the load and kill tests, which measure latency
	needGorigin(t)
	testenv.NeedPtrace(t)
	real, err := exec.LookPath("gdb")
	if err != nil {
		t.Skip("needs gdb (.ci/run installs it)")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "gdb")
	wrapper := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$@\" >> %s.argv\ntee -a %s.stdin | %s \"$@\"\n", log, log, real)
	if err := os.WriteFile(filepath.Join(dir, "gdb"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	s := startService(t, plainService(t), "-n", fmt.Sprint(idleWorkers))
	env := []string{"PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH")}
	r := runGorigin(t, nil, env, "attach", strconv.Itoa(s.Pid), "--format", "json", "--backend", "gdb")
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	checkIdle(t, decodeSnapshot(t, r))
	testenv.CheckRunsFreely(t, s.Pid, 5*time.Second)

	argv, err := os.ReadFile(log + ".argv")
	if err != nil {
		t.Fatalf("gorigin --backend gdb did not run the gdb on PATH: %v", err)
	}
	stdin, _ := os.ReadFile(log + ".stdin")
	if !bytes.Contains(stdin, []byte("attach "+strconv.Itoa(s.Pid))) {
		t.Fatalf("the recorded session does not attach to %d: the recording missed it\n%s", s.Pid, stdin)
	}
	args := strings.Split(strings.TrimSpace(string(argv)), "\n")
	if !contains(args, "-nx") && !contains(args, "--nx") {
		t.Errorf("gdb started without -nx (it would read ~/.gdbinit, which may widen the safe-path): %q", args)
	}
	checkNoWidening(t, "command line", args)
	checkNoWidening(t, "MI commands", strings.Split(string(stdin), "\n"))
	t.Logf("gdb argv: %q", args)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

var (
	safePathRE = regexp.MustCompile(`auto-load\s+safe-path\s*(\S*)`)
	widenRE    = regexp.MustCompile(`(?i)add-auto-load-safe-path|add-auto-load-scripts-directory|auto-load-scripts\s+(on|1|yes)|set\s+auto-load\s+(python-scripts|gdb-scripts|local-gdbinit)?\s*(on|1|yes)\b|source\s|-ix\b|-x\b`)
)

// checkNoWidening fails on any line that widens the auto-load safe-path or enables
// auto-loading: a safe-path other than /nonexistent, an add-… command, auto-load on, or
// a script to run.
func checkNoWidening(t *testing.T, what string, lines []string) {
	t.Helper()
	for _, l := range lines {
		if m := safePathRE.FindStringSubmatch(l); m != nil && strings.Trim(m[1], `"'\`) != "/nonexistent" {
			t.Errorf("%s sets the auto-load safe-path to %q: %s", what, m[1], l)
		}
		if widenRE.MatchString(l) {
			t.Errorf("%s widens auto-loading: %s", what, l)
		}
	}
}
