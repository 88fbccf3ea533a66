package reliability

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/integration/oracle"
	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// Rows covered elsewhere, not repeated here:
//   - not a Go program, no such process, not a pid: integration.TestAttachBadInput
//   - stripped binaries (exe and PIE, PIE with cgo, Go 1.20 to 1.27): integration.TestAttachStripped
//   - PIE, cgo and static (CGO_ENABLED=0) builds of every toolchain: integration.TestAttach
//   - a binary deleted after start: integration.TestAttachAfterTheBinaryIsGone
//   - an ELF program, a text file, a non-Go core, a truncated non-Go core, a wrong or
//     missing --exe: integration.TestCoreBadInput

// TestBadTargets: targets gorigin cannot read get exit status 2 and a message that says
// why, with every backend, and leave the target as it was.
func TestBadTargets(t *testing.T) {
	t.Parallel() // after the load and kill tests, which measure latency
	needGorigin(t)
	testenv.NeedPtrace(t)
	for _, b := range []struct {
		name  string
		flags []string
	}{{"native", nil}, {"gdb", []string{"--backend", "gdb"}}, {"delve", []string{"--backend", "delve"}}} {
		rows := []struct {
			name    string
			target  func(t *testing.T) (pid int, alive bool)
			attr    *syscall.SysProcAttr
			message []string
		}{
			{
				name:    "a kernel thread",
				target:  func(t *testing.T) (int, bool) { return kthreadd(t), false },
				message: []string{"attach 2", "kernel thread, not a Go program"},
			},
			{
				name:    "a zombie",
				target:  func(t *testing.T) (int, bool) { return zombie(t), false },
				message: []string{"zombie"},
			},
			{
				name: "no permission: gorigin as nobody, the target root's",
				target: func(t *testing.T) (int, bool) {
					testenv.NeedRoot(t)
					return startService(t, plainService(t)).Pid, true
				},
				attr:    &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}},
				message: []string{"permission denied", "run as root or grant CAP_SYS_PTRACE"},
			},
		}
		for _, row := range rows {
			t.Run(b.name+"/"+row.name, func(t *testing.T) {
				needBackend(t, b.name)
				pid, alive := row.target(t)
				r := runGorigin(t, row.attr, nil, append([]string{"attach", strconv.Itoa(pid), "--format", "json"}, b.flags...)...)
				checkRun(t, r, 2, row.message)
				if alive {
					testenv.CheckRunsFreely(t, pid, 5*time.Second)
				}
			})
		}
	}
}

// checkRun requires exit status code, every message substring on stderr, no panic, and
// nothing on stdout on failure.
func checkRun(t *testing.T, r *run, code int, message []string) {
	t.Helper()
	if r.Code != code {
		t.Errorf("exit status %d, want %d\n%v", r.Code, code, r)
	}
	for _, m := range message {
		if !strings.Contains(string(r.Stderr), m) {
			t.Errorf("message does not say %q:\n%s", m, r.Stderr)
		}
	}
	if panicRE.Match(r.Stderr) {
		t.Errorf("gorigin panicked:\n%s", r.Stderr)
	}
	if r.Code != 0 {
		t.Logf("exit status %d: %s", r.Code, bytes.TrimSpace(r.Stderr))
	}
	if code != 0 && len(r.Stdout) != 0 {
		t.Errorf("wrote %d bytes to stdout on bad input", len(r.Stdout))
	}
}

// panicRE matches a Go panic's or fatal error's traceback.
var panicRE = regexp.MustCompile(`(?m)^(panic: |fatal error: |goroutine \d+ \[)`)

// kthreadd is pid 2, the kernel's thread creator, when this PID namespace has it.
func kthreadd(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/2/stat")
	if err != nil || !bytes.Contains(b, []byte("(kthreadd)")) {
		t.Skipf("pid 2 is not kthreadd here (a PID namespace?): %.40s %v", b, err)
	}
	return 2
}

// zombie is a child of the test that has exited and is not reaped yet (Cleanup reaps it).
func zombie(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(plainService(t))
	cmd.Stdin = strings.NewReader("") // exits at once: its stdin is empty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Wait() })
	pid := cmd.Process.Pid
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err == nil && bytes.Contains(b, []byte(") Z ")) {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d did not become a zombie: %s", pid, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUnusualBuilds: binaries built in ways other tests do not cover, and a target in
// another PID namespace, are read correctly: exit status 0 and, for each go statement of
// the service, as many goroutines as the runtime's own dump (debug=2) shows.
func TestUnusualBuilds(t *testing.T) {
	t.Parallel() // after the load and kill tests, which measure latency
	needGorigin(t)
	testenv.NeedPtrace(t)
	rows := []struct {
		name string
		argv func(t *testing.T) []string
	}{
		{"-race", func(t *testing.T) []string {
			needCC(t)
			return []string{serviceBinary(t, []string{"CGO_ENABLED=1"}, "-race")}
		}},
		{"static cgo (external linker, -static)", func(t *testing.T) []string {
			needCC(t)
			if !full {
				t.Skip("a static external link takes a minute on two busy cores: GORIGIN_RELIABILITY=full")
			}
			return []string{serviceBinary(t, []string{"CGO_ENABLED=1"}, "-ldflags=-linkmode=external -extldflags=-static")}
		}},
		{"in another PID namespace", func(t *testing.T) []string {
			testenv.NeedRoot(t)
			if err := exec.Command("unshare", "--pid", "--fork", "--mount-proc", "true").Run(); err != nil {
				t.Skipf("unshare --pid --fork --mount-proc does not work here: %v", err)
			}
			return []string{"unshare", "--pid", "--fork", "--mount-proc", plainService(t)}
		}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			argv := append(row.argv(t), "-n", fmt.Sprint(idleWorkers))
			s := startService(t, argv...)
			if argv[0] == "unshare" {
				s.Pid = hostPid(t, s)
			}
			before := statementCounts(t, s)
			snap, r := attachJSON(t, s.Pid, "--stacks")
			after := statementCounts(t, s)
			testenv.CheckRunsFreely(t, s.Pid, time.Second)
			got := snapshotCounts(snap)
			for stmt, n := range before {
				if after[stmt] != n {
					continue // changed meanwhile: no oracle
				}
				if got[stmt] != n {
					t.Errorf("%s: gorigin counts %d goroutines, the runtime %d", stmt, got[stmt], n)
				}
			}
			if len(before) < 3 {
				t.Errorf("the runtime's dump shows only %d go statements of the service: %v", len(before), before)
			}
			checkIdle(t, snap)
			t.Logf("%d goroutines, frozen %d µs, %v wall; statements %v", len(snap.Goroutines), snap.Source.FreezeMicros, r.Elapsed.Round(time.Millisecond), got)
		})
	}
}

func needCC(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("needs a C compiler (gcc) for cgo and -race (.ci/run installs it)")
	}
}

// hostPid is the pid, in this namespace, of the service started under unshare: the only
// child of unshare's child... the process whose /proc/PID/exe is the service binary and
// that descends from the unshare process.
func hostPid(t *testing.T, s *service) int {
	t.Helper()
	pid := s.cmd.Process.Pid
	for depth := 0; depth < 3; depth++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if err != nil {
			t.Fatal(err)
		}
		kids := strings.Fields(string(b))
		if len(kids) != 1 {
			t.Fatalf("pid %d has children %q, want one", pid, kids)
		}
		pid, _ = strconv.Atoi(kids[0])
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); strings.Contains(exe, "service-") {
			ns := nsPid(t, pid)
			t.Logf("the service is pid %d here and pid %d in its own namespace", pid, ns)
			if ns == pid {
				t.Fatalf("pid %d is the same in both namespaces: unshare did not make one", pid)
			}
			return pid
		}
	}
	t.Fatalf("no service process under unshare pid %d", s.cmd.Process.Pid)
	return 0
}

// nsPid is the innermost pid of a process (NSpid in /proc/PID/status).
func nsPid(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(v)
			n, _ := strconv.Atoi(f[len(f)-1])
			return n
		}
	}
	return pid
}

// statementCounts is the runtime's own count of goroutines per go statement of the
// service's main package ("main.main /path/main.go:41"), from debug=2.
func statementCounts(t *testing.T, s *service) map[string]int {
	t.Helper()
	text, err := s.get("/debug/pprof/goroutine?debug=2")
	if err != nil {
		t.Fatalf("debug=2: %v", err)
	}
	gs, err := oracle.ParseBytes(text)
	if err != nil {
		t.Fatalf("parse debug=2: %v", err)
	}
	counts := map[string]int{}
	for _, g := range gs {
		if c := g.CreatedBy; c != nil && strings.HasPrefix(c.Func, "main.") {
			counts[fmt.Sprintf("%s %s:%d", c.Func, c.File, c.Line)]++
		}
	}
	return counts
}

// snapshotCounts is the same count from gorigin's snapshot.
func snapshotCounts(snap *snapshot.Snapshot) map[string]int {
	counts := map[string]int{}
	for _, g := range snap.Goroutines {
		if o := g.Origin; o != nil && strings.HasPrefix(o.Func, "main.") {
			counts[fmt.Sprintf("%s %s:%d", o.Func, o.File, o.Line)]++
		}
	}
	return counts
}

// TestBadDumps: what is not a goroutine dump gets exit status 2 and says so, in bounded
// memory and time; an HTTP endpoint that hangs or answers HTML too.
func TestBadDumps(t *testing.T) {
	t.Parallel() // after the load and kill tests, which measure latency
	needGorigin(t)
	dir := t.TempDir()
	random := filepath.Join(dir, "random.bin")
	data := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(random, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// 1 GB, sparse: holes read as zeros, with random blocks and stray words of a dump
	// spread through it so that no parser can stop at the first bytes.
	sparse := filepath.Join(dir, "sparse.bin")
	fh, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	for off := int64(0); off < 1<<30; off += 64 << 20 {
		fh.WriteAt(data[:4096], off)
		fh.WriteAt([]byte("\ngoroutine 1 [\ncreated by \n"+strings.Repeat("A", 10000)), off+8192)
	}
	fh.Close()

	hang := hangingServer(t)
	html := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!doctype html><html><body><h1>Welcome</h1><p>goroutine</p></body></html>")
	})

	rows := []struct {
		name    string
		args    []string
		message []string
		maxRSS  int64
	}{
		{"random bytes", []string{random}, []string{"dump " + random + ": no goroutine dump found"}, 0},
		{"1 GB sparse garbage", []string{sparse}, []string{"dump " + sparse + ": no goroutine dump found"}, 200 << 20},
		// The endpoint never answers: gorigin's own message shows that --timeout ended
		// the wait (without it, runGorigin kills gorigin after two minutes).
		{"an HTTP endpoint that hangs", []string{"--timeout", "1s", hang}, []string{"no answer within 1s", "raise --timeout"}, 0},
		{"an HTTP endpoint that answers HTML", []string{html}, []string{"the server answered no goroutine profile", "no goroutine dump found"}, 0},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			r := runMeasured(t, append([]string{"dump"}, row.args...)...)
			checkRun(t, r, 2, row.message)
			if row.maxRSS > 0 {
				checkRSS(t, r, row.maxRSS)
			}
		})
	}
}

// hangingServer is a loopback TCP server that accepts connections and never answers.
func hangingServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String() + "/debug/pprof/goroutine"
}

// httptestServer serves h on loopback until the test ends.
func httptestServer(t *testing.T, h http.HandlerFunc) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/debug/pprof/goroutine"
}

// TestBadCores: cores of the Go service cut short or corrupted get exit status 2 and a
// message that says what is wrong — never a panic or an internal error. A gcore core of
// even a small Go program is over a gigabyte (GDB dumps the reserved arenas too), so the
// rows damage one scratch copy in place and undo it, and cut it shorter and shorter.
func TestBadCores(t *testing.T) {
	t.Parallel() // after the load and kill tests, which measure latency
	needGorigin(t)
	testenv.NeedPtrace(t)
	if _, err := exec.LookPath("gcore"); err != nil {
		t.Skip("gcore (GDB) is not installed: .ci/run installs gdb")
	}
	dir := t.TempDir()
	s := startService(t, plainService(t), "-n", fmt.Sprint(idleWorkers))
	prefix := filepath.Join(dir, "core")
	if out, err := exec.Command("gcore", "-o", prefix, strconv.Itoa(s.Pid)).CombinedOutput(); err != nil {
		t.Fatalf("gcore: %v\n%s", err, out)
	}
	path := prefix + "." + strconv.Itoa(s.Pid)
	exe := plainService(t)
	// The undamaged core works: the damage is all that differs in the rows below.
	r := runGorigin(t, nil, nil, "core", path, "--exe", exe, "--format", "json")
	checkRun(t, r, 0, nil)
	checkIdle(t, decodeSnapshot(t, r))

	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	ef, err := elf.NewFile(fh)
	if err != nil {
		t.Fatal(err)
	}
	size := fileSizeOf(t, path)
	var note *elf.Prog
	for _, p := range ef.Progs {
		if p.Type == elf.PT_NOTE {
			note = p
			break
		}
	}
	if note == nil {
		t.Fatalf("the gcore core has no PT_NOTE")
	}
	// The executable's writable sections (runtime.allgs, allglen and the rest of the
	// runtime's globals), as file ranges of the core.
	var globals [][2]int64
	xf, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range xf.Sections {
		if sec.Flags&elf.SHF_WRITE == 0 || sec.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		for _, p := range ef.Progs {
			if p.Type == elf.PT_LOAD && sec.Addr >= p.Vaddr && sec.Addr+sec.Size <= p.Vaddr+p.Filesz {
				globals = append(globals, [2]int64{int64(p.Off + sec.Addr - p.Vaddr), int64(sec.Size)})
			}
		}
	}
	xf.Close()
	if len(globals) == 0 {
		t.Fatalf("the core does not hold the executable's writable sections")
	}

	// patch overwrites [off, off+len(b)) and returns how to undo it.
	patch := func(off int64, b []byte) func() {
		old := make([]byte, len(b))
		if _, err := fh.ReadAt(old, off); err != nil {
			t.Fatal(err)
		}
		if _, err := fh.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
		return func() { fh.WriteAt(old, off) }
	}
	rows := []struct {
		name    string
		damage  func() (undo func())
		message []string
	}{
		{"program headers past the end", func() func() {
			return patch(0x20, binary.LittleEndian.AppendUint64(nil, uint64(size)+1<<20)) // e_phoff
		}, []string{path, "program headers end at byte", "cut short or is damaged"}},
		{"random notes", func() func() {
			b := make([]byte, note.Filesz)
			rng := rand.New(rand.NewPCG(3, 4))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			return patch(int64(note.Off), b)
		}, []string{"note"}},
		{"zeroed runtime globals", func() func() {
			var undo []func()
			for _, g := range globals {
				undo = append(undo, patch(g[0], make([]byte, g[1])))
			}
			return func() {
				for _, u := range undo {
					u()
				}
			}
		}, []string{"core " + path, "runtime.allgs is empty", "damaged"}},
		{"cut at 90%", func() func() { return cut(t, fh, size*9/10) }, []string{"truncated"}},
		{"cut at 10%", func() func() { return cut(t, fh, size/10) }, []string{"truncated"}},
		{"cut inside the notes", func() func() { return cut(t, fh, int64(note.Off+note.Filesz/2)) }, []string{"truncated"}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			undo := row.damage()
			defer undo()
			r := runGorigin(t, nil, nil, "core", path, "--exe", exe, "--format", "json")
			checkRun(t, r, 2, row.message)
		})
	}
}

// cut truncates the core; cuts only ever get shorter, so there is nothing to undo.
func cut(t *testing.T, fh *os.File, n int64) func() {
	t.Helper()
	if err := fh.Truncate(n); err != nil {
		t.Fatal(err)
	}
	return func() {}
}

func fileSizeOf(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
