package reliability

// gorigin dap on a socket, as root, against clients that are not its user or that
// misbehave: other users are refused (and it is logged), the user who ran sudo is served,
// a Unix socket is 0600 and checks its peer, and a flood of connections, silent or
// trickling clients and concurrent attaches to one pid leave the server serving.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	godap "github.com/google/go-dap"
	"golang.org/x/sys/unix"

	"github.com/gorigin-dev/gorigin/dap/daptest"
	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// A dapServer is a running "gorigin dap --listen …" and everything it wrote on stderr.
type dapServer struct {
	cmd     *exec.Cmd
	network string // "tcp" or "unix"
	addr    string
	log     *lockedBuffer
}

var listeningForRE = regexp.MustCompile(`gorigin dap: listening on (\S+) for uid`)

// startDAPServer starts gorigin dap with args and extra environment, and waits for its
// "listening on" line. Cleanup kills it by pid.
func startDAPServer(t *testing.T, env []string, args ...string) *dapServer {
	t.Helper()
	cmd := exec.Command(needGorigin(t), append([]string{"dap"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	s := &dapServer{cmd: cmd, network: "tcp", log: &lockedBuffer{}}
	cmd.Stderr = s.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s.waitLog(t, "listening on")
	m := listeningForRE.FindStringSubmatch(s.log.String())
	if m == nil {
		t.Fatalf("gorigin dap does not say where it listens:\n%s", s.log)
	}
	s.addr = m[1]
	if strings.HasPrefix(s.addr, "/") {
		s.network = "unix"
	}
	return s
}

// waitLog waits (a minute at most) for text in the server's stderr.
func (s *dapServer) waitLog(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(s.log.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("gorigin dap did not log %q within a minute:\n%s", text, s.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkAlive fails if the server exited.
func (s *dapServer) checkAlive(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(s.cmd.Process.Pid, 0); err != nil || s.cmd.ProcessState != nil {
		t.Fatalf("gorigin dap exited: %v\n%s", err, s.log)
	}
}

// client connects as this test's user and returns a DAP client on the connection.
func (s *dapServer) client(t testing.TB) (*daptest.Client, net.Conn) {
	t.Helper()
	conn, err := net.DialTimeout(s.network, s.addr, 30*time.Second)
	if err != nil {
		t.Fatalf("connect to gorigin dap: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return daptest.New(t, conn), conn
}

// dapping runs testdata/dapping as uid (its group the same number): it connects, sends
// initialize, then launch with launchArgs if any, and prints what it got.
func dapping(t *testing.T, uid int, network, addr string, launchArgs ...string) string {
	t.Helper()
	bin := testenv.Binary(t, testenv.Build{Dir: "testdata/dapping", Env: []string{"CGO_ENABLED=0"}})
	cmd := exec.Command(bin, append([]string{network, addr}, launchArgs...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	out, err := cmd.CombinedOutput()
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		t.Fatalf("run dapping as uid %d: %v", uid, err)
	}
	return string(out)
}

// openTempDir is a new directory that every user may enter (t.TempDir's is 0700 inside
// another 0700 one); Cleanup removes it.
func openTempDir(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gorigin-"+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

const initialized = "response initialize success=true"

// TestDAPOtherUserRefused: a root gorigin dap on loopback serves root (its user) and
// refuses the user nobody, who is told why; the refusal is logged with the uid. The
// client runs as nobody (setuid in exec), so the kernel's socket table names it.
func TestDAPOtherUserRefused(t *testing.T) {
	t.Parallel()
	testenv.NeedRoot(t)
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(addr, func(t *testing.T) {
			if addr == "[::1]:0" {
				if ln, err := net.Listen("tcp6", addr); err != nil {
					t.Skipf("no IPv6 loopback: %v", err)
				} else {
					ln.Close()
				}
			}
			s := startDAPServer(t, []string{"SUDO_UID="}, "--listen", addr)
			out := dapping(t, 65534, "tcp", s.addr)
			if strings.Contains(out, initialized) || !strings.Contains(out, "refused") || !strings.Contains(out, "uid 65534 may not use") {
				t.Errorf("the user nobody got:\n%s\nwant a refusal and no session", out)
			}
			s.waitLog(t, "refused")
			if log := s.log.String(); !strings.Contains(log, "uid 65534") {
				t.Errorf("the refusal's log does not name the uid:\n%s", log)
			}
			c, _ := s.client(t) // root: gorigin's own user
			c.Call("initialize", map[string]any{"adapterID": "test"})
			s.checkAlive(t)
		})
	}
}

// TestDAPSudoUser: started through sudo (SUDO_UID), gorigin dap also serves the user who
// ran sudo — the IDE's — and still nobody else.
func TestDAPSudoUser(t *testing.T) {
	t.Parallel()
	testenv.NeedRoot(t)
	s := startDAPServer(t, []string{"SUDO_UID=65534", "SUDO_GID=65534"}, "--listen", "127.0.0.1:0")
	if out := dapping(t, 65534, "tcp", s.addr); !strings.Contains(out, initialized) {
		t.Errorf("the user who ran sudo (65534) got:\n%s\nwant a session", out)
	}
	if out := dapping(t, 1, "tcp", s.addr); strings.Contains(out, initialized) || !strings.Contains(out, "uid 1 may not use") {
		t.Errorf("uid 1 got:\n%s\nwant a refusal", out)
	}
	s.waitLog(t, "refused")
	c, _ := s.client(t)
	c.Call("initialize", map[string]any{"adapterID": "test"})
}

// TestDAPUnixSocket: --listen unix:PATH makes a socket of mode 0600 owned by the user
// who ran sudo; that user is served, another cannot even connect; and if the mode is
// widened, the peer's credentials (SO_PEERCRED) still keep other users out.
func TestDAPUnixSocket(t *testing.T) {
	t.Parallel()
	testenv.NeedRoot(t)
	dir := openTempDir(t, "sock")
	t.Run("sudo", func(t *testing.T) {
		path := filepath.Join(dir, "sudo.sock")
		s := startDAPServer(t, []string{"SUDO_UID=65534", "SUDO_GID=65534"}, "--listen", "unix:"+path)
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 || st.Uid != 65534 {
			t.Errorf("the socket is %v owned by uid %d, want a socket of mode 0600 owned by 65534", fi.Mode(), st.Uid)
		}
		if out := dapping(t, 65534, "unix", path); !strings.Contains(out, initialized) {
			t.Errorf("the user who ran sudo got:\n%s\nwant a session", out)
		}
		if out := dapping(t, 1, "unix", path); !strings.Contains(out, "permission denied") {
			t.Errorf("uid 1 got:\n%s\nwant the kernel's permission denied", out)
		}
		c, _ := s.client(t)
		c.Call("initialize", map[string]any{"adapterID": "test"})
	})
	t.Run("peer credentials", func(t *testing.T) {
		path := filepath.Join(dir, "root.sock")
		s := startDAPServer(t, []string{"SUDO_UID="}, "--listen", "unix:"+path)
		if err := os.Chmod(path, 0o666); err != nil { // as if someone widened it
			t.Fatal(err)
		}
		out := dapping(t, 65534, "unix", path)
		if strings.Contains(out, initialized) || !strings.Contains(out, "uid 65534 may not use") {
			t.Errorf("the user nobody got:\n%s\nwant a refusal", out)
		}
		s.waitLog(t, "refused unix socket, uid 65534")
	})
}

// TestDAPClientFiles: a client may open as dumpPath or coreFilePath only what its own
// user could read: root's 0600 file is refused to the user who ran sudo, and its bytes
// never come back; a world-readable dump is served.
func TestDAPClientFiles(t *testing.T) {
	t.Parallel()
	testenv.NeedRoot(t)
	svc := startService(t, plainService(t), "-n", fmt.Sprint(idleWorkers))
	text, err := svc.get("/debug/pprof/goroutine?debug=2")
	if err != nil {
		t.Fatal(err)
	}
	dir := openTempDir(t, "files")
	public, secret := filepath.Join(dir, "public.txt"), filepath.Join(dir, "secret.txt")
	if err := os.WriteFile(public, text, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, text, 0o600); err != nil { // a valid dump: only the check refuses it
		t.Fatal(err)
	}
	s := startDAPServer(t, []string{"SUDO_UID=65534", "SUDO_GID=65534"}, "--listen", "127.0.0.1:0")
	launch := func(args map[string]any) string {
		b, _ := json.Marshal(args)
		return dapping(t, 65534, "tcp", s.addr, string(b))
	}
	if out := launch(map[string]any{"mode": "dump", "dumpPath": public}); !strings.Contains(out, "response launch success=true") {
		t.Errorf("a readable dump:\n%s\nwant it served", out)
	}
	for _, args := range []map[string]any{
		{"mode": "dump", "dumpPath": secret},
		{"mode": "core", "coreFilePath": secret},
		{"mode": "core", "coreFilePath": public, "program": secret},
	} {
		out := launch(args)
		if !strings.Contains(out, "response launch success=false") || !strings.Contains(out, "uid 65534, who connected, may not read") {
			t.Errorf("launch %v as nobody:\n%s\nwant a refusal naming the uid", args, out)
		}
		if strings.Contains(out, "goroutine 1 [") || strings.Contains(out, "main.idleWorker") {
			t.Errorf("the refusal shows the file's contents:\n%s", out)
		}
	}
}

// TestDAPAcceptEMFILE: with every file descriptor it may have in use (its limit lowered
// with prlimit below the lowest free one, while sessions hold the rest), gorigin dap's
// accept fails with "too many open files": it logs that, backs off and keeps going, and
// refuses what it cannot check. Once the sessions end, a well-behaved client is served.
func TestDAPAcceptEMFILE(t *testing.T) {
	t.Parallel()
	s := startDAPServer(t, nil, "--listen", "127.0.0.1:0", "--max-connections", "1000")
	var sessions []net.Conn
	for range 8 {
		c, conn := s.client(t)
		c.Call("initialize", map[string]any{"adapterID": "test"})
		sessions = append(sessions, conn)
	}
	limit := lowestFreeFD(t, s.cmd.Process.Pid)
	rl := unix.Rlimit{Cur: limit, Max: limit}
	if err := unix.Prlimit(s.cmd.Process.Pid, unix.RLIMIT_NOFILE, &rl, nil); err != nil {
		t.Skipf("prlimit: %v", err)
	}
	var flood []net.Conn
	for i := 0; i < 50; i++ {
		c, err := net.DialTimeout("tcp", s.addr, 30*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		flood = append(flood, c)
	}
	s.waitLog(t, "accept: accept tcp")
	s.waitLog(t, "too many open files; retrying")
	s.checkAlive(t)
	for _, c := range append(sessions, flood...) {
		c.Close()
	}
	// The sessions end as the server reads their EOF; the connections in the backlog
	// are accepted (refused while descriptors are short: the server cannot read who
	// connected). Then a new client is served.
	s.waitServed(t)
	s.checkAlive(t)
	t.Logf("fd limit %d; log:\n%.1500s", limit, s.log)
}

// lowestFreeFD is the lowest file descriptor number pid does not use.
func lowestFreeFD(t *testing.T, pid int) uint64 {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	used := map[uint64]bool{}
	for _, fd := range fds {
		n, _ := strconv.ParseUint(fd.Name(), 10, 32)
		used[n] = true
	}
	var n uint64
	for used[n] {
		n++
	}
	return n
}

// TestDAPIdleClientDropped: a client that sends nothing, and one that sends a header a
// byte at a time forever, are both dropped after --idle-timeout and told why.
func TestDAPIdleClientDropped(t *testing.T) {
	t.Parallel()
	s := startDAPServer(t, nil, "--listen", "127.0.0.1:0", "--idle-timeout", "2s")
	for _, trickle := range []bool{false, true} {
		t.Run(fmt.Sprintf("trickle=%v", trickle), func(t *testing.T) {
			_, conn := s.client(t)
			stop := make(chan struct{})
			defer close(stop)
			if trickle {
				go func() {
					header := "Content-Length: 99999999999999999999999999"
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						case <-time.After(200 * time.Millisecond):
						}
						if _, err := conn.Write([]byte{header[i%len(header)]}); err != nil {
							return
						}
					}
				}()
			}
			// A watchdog, not a measurement: the server must close long before this.
			conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
			got, err := io.ReadAll(conn)
			if err != nil {
				t.Fatalf("the server did not close the connection: %v (got %q)", err, got)
			}
			if !strings.Contains(string(got), "no complete message for 2s") {
				t.Errorf("the client was not told why: %q", got)
			}
		})
	}
	// The server closes a connection, then logs it: wait for the second line.
	const drop = "dropped: no complete message"
	for deadline := time.Now().Add(time.Minute); strings.Count(s.log.String(), drop) < 2 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(s.log.String(), drop); n != 2 {
		t.Errorf("%d drops logged, want 2:\n%s", n, s.log)
	}
	c, _ := s.client(t)
	c.Call("initialize", map[string]any{"adapterID": "test"})
}

// TestDAPConnectionCap: with --max-connections 2, a third client is refused and told
// why while two sessions are open, and served once one of them ends.
func TestDAPConnectionCap(t *testing.T) {
	t.Parallel()
	s := startDAPServer(t, nil, "--listen", "127.0.0.1:0", "--max-connections", "2")
	c1, conn1 := s.client(t)
	c1.Call("initialize", map[string]any{"adapterID": "test"})
	c2, _ := s.client(t)
	c2.Call("initialize", map[string]any{"adapterID": "test"})
	_, conn3 := s.client(t)
	conn3.SetReadDeadline(time.Now().Add(2 * time.Minute))
	got, err := io.ReadAll(conn3)
	if err != nil || !strings.Contains(string(got), "2 sessions are open already") {
		t.Errorf("the third client got %q, %v; want a refusal", got, err)
	}
	s.waitLog(t, "sessions are open already")
	c1.Call("disconnect", nil)
	conn1.Close()
	s.waitServed(t)
}

// waitServed connects until a client gets its initialize answered (refusals end the
// connection: try again), for a minute at most.
func (s *dapServer) waitServed(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last string
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout(s.network, s.addr, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(time.Minute))
		body := `{"seq":1,"type":"request","command":"initialize","arguments":{"adapterID":"test"}}`
		fmt.Fprintf(conn, "Content-Length: %d\r\n\r\n%s", len(body), body)
		m, err := godap.ReadProtocolMessage(bufio.NewReader(conn))
		conn.Close()
		if _, ok := m.(*godap.InitializeResponse); ok {
			return
		}
		last = fmt.Sprintf("%#v, %v", m, err)
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no client was served within a minute; the last got %s\n%s", last, s.log)
}

// goTB is a testing.TB for a daptest.Client used on another goroutine: a failure ends
// the goroutine and is kept for the test to report.
type goTB struct {
	testing.TB
	mu  sync.Mutex
	err string
}

func (g *goTB) Helper() {}
func (g *goTB) Fatal(args ...any) {
	g.Fatalf("%s", fmt.Sprint(args...))
}
func (g *goTB) Fatalf(format string, args ...any) {
	g.mu.Lock()
	g.err = fmt.Sprintf(format, args...)
	g.mu.Unlock()
	runtime.Goexit()
}
func (g *goTB) Errorf(format string, args ...any) { g.Fatalf(format, args...) }

var countRE = regexp.MustCompile(`^([\d,]+) × `)

// TestDAPConcurrentAttaches: 20 sessions attach to one pid at once; each waits its turn
// and sees the idle workers the runtime's debug=2 counts; the target runs on.
func TestDAPConcurrentAttaches(t *testing.T) {
	t.Parallel()
	testenv.NeedPtrace(t)
	svc := startService(t, plainService(t), "-n", fmt.Sprint(idleWorkers))
	want := 0
	for k, n := range statementCounts(t, svc) {
		if strings.HasPrefix(k, "main.main ") && n == idleWorkers {
			want = n
		}
	}
	if want == 0 {
		t.Fatalf("debug=2 shows no go statement with %d goroutines: %v", idleWorkers, statementCounts(t, svc))
	}
	s := startDAPServer(t, nil, "--listen", "127.0.0.1:0", "--attach-wait", "10m", "--max-connections", "32")
	const n = 20
	tbs := make([]*goTB, n)
	counts := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		tbs[i] = &goTB{TB: t}
		wg.Add(1)
		go func() {
			defer wg.Done()
			tb := tbs[i]
			conn, err := net.DialTimeout("tcp", s.addr, 30*time.Second)
			if err != nil {
				tb.Fatal(err)
			}
			defer conn.Close()
			c := daptest.New(tb, conn)
			c.Timeout = 10 * time.Minute
			c.Handshake("attach", map[string]any{"processId": svc.Pid, "groupThreshold": -1})
			for _, th := range c.Threads() {
				if strings.Contains(th.Name, "main.idleWorker") {
					m := countRE.FindStringSubmatch(th.Name)
					if m == nil {
						tb.Fatalf("thread name %q", th.Name)
					}
					counts[i], _ = strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
				}
			}
			c.Call("disconnect", nil)
		}()
	}
	wg.Wait()
	for i, tb := range tbs {
		if tb.err != "" {
			t.Errorf("session %d: %s", i, tb.err)
		} else if counts[i] != want {
			t.Errorf("session %d sees %d idle workers, debug=2 %d", i, counts[i], want)
		}
	}
	testenv.CheckRunsFreely(t, svc.Pid, 30*time.Second)
	svc.checkServes(t)
	if t.Failed() {
		t.Logf("gorigin dap:\n%.4000s", s.log)
	}
}
