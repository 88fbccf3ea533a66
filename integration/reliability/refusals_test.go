package reliability

// The smaller refusals of issue 17, run through the real binary: a core that names a FIFO
// as its executable, a dump URL that redirects to another host, attach-only flags given
// to dump, a pid that never existed, an -o path that cannot be written, and root refused
// by something other than its uid. Each is exit status 2 and a message that says why.

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// smallDump is a debug=2 dump of one goroutine.
const smallDump = "goroutine 7 [chan receive]:\nmain.worker()\n\t/src/main.go:20 +0x1d\ncreated by main.main in goroutine 1\n\t/src/main.go:9 +0x25\n\n"

// TestCoreNamingAFIFO: a core whose NT_FILE maps a FIFO where the executable was loaded
// made gorigin core hang forever in open(2); it is refused at once (runGorigin would fail
// the test after two minutes).
func TestCoreNamingAFIFO(t *testing.T) {
	t.Parallel()
	needGorigin(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "server")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	le := binary.LittleEndian
	file := le.AppendUint64(nil, 1)                            // one mapping
	file = le.AppendUint64(file, 4096)                         // page size
	file = le.AppendUint64(file, 0x400000)                     // start
	file = le.AppendUint64(file, 0x402000)                     // end
	file = le.AppendUint64(file, 0)                            // page offset
	file = append(append(file, fifo...), 0)                    // its path
	auxv := le.AppendUint64(le.AppendUint64(nil, 9), 0x401000) // AT_ENTRY
	auxv = le.AppendUint64(le.AppendUint64(auxv, 0), 0)        // AT_NULL
	notes := append(elfNote(0x46494c45, file), elfNote(6, auxv)...)
	core := writeFile(t, "core", coreFile(notes, 1))
	r := runGorigin(t, nil, nil, "core", core)
	checkRun(t, r, 2, []string{fifo, "named pipe", "--exe"})
}

// TestDumpRedirects: a dump URL's redirect to the same host is followed; one to another
// host only with --follow-redirects (gorigin runs as root, and the server on loopback may
// be anyone's).
func TestDumpRedirects(t *testing.T) {
	t.Parallel()
	needGorigin(t)
	target := httptestServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, smallDump) })
	port := target[strings.LastIndex(target, ":")+1 : strings.Index(target, "/debug")]
	other := "http://localhost:" + port + "/debug/pprof/goroutine" // the same server, by another host name
	if addrs, err := net.LookupHost("localhost"); err != nil || len(addrs) == 0 {
		t.Skipf("localhost does not resolve: %v", err)
	}
	redirect := func(to string) string {
		return httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/here" {
				fmt.Fprint(w, smallDump)
				return
			}
			http.Redirect(w, r, to, http.StatusFound)
		})
	}
	away := redirect(other)
	t.Run("to another host", func(t *testing.T) {
		r := runGorigin(t, nil, nil, "dump", away)
		checkRun(t, r, 2, []string{"redirects to " + other, "another host", "--follow-redirects"})
	})
	t.Run("to another host, allowed", func(t *testing.T) {
		r := runGorigin(t, nil, nil, "dump", away, "--follow-redirects", "--format", "json")
		checkRun(t, r, 0, nil)
		if s := decodeSnapshot(t, r); len(s.Goroutines) != 1 || s.Goroutines[0].ID != 7 {
			t.Errorf("read %+v, want goroutine 7 of the dump", s.Goroutines)
		}
	})
	t.Run("to the same host", func(t *testing.T) {
		same := redirect("/here")
		r := runGorigin(t, nil, nil, "dump", same, "--format", "json")
		checkRun(t, r, 0, nil)
		if s := decodeSnapshot(t, r); len(s.Goroutines) != 1 || s.Goroutines[0].ID != 7 {
			t.Errorf("read %+v, want goroutine 7 of the dump", s.Goroutines)
		}
	})
}

// TestDumpRefusesAttachFlags: flags about reading a live process make no sense for a dump
// and are refused with why; --stacks, which a dump always has, is accepted.
func TestDumpRefusesAttachFlags(t *testing.T) {
	t.Parallel()
	needGorigin(t)
	dump := writeFile(t, "goroutines.txt", []byte(smallDump))
	for _, args := range [][]string{
		{"--freeze", "never"}, {"--max-freeze", "1s"}, {"--backend", "gdb"}, {"--dlv", "127.0.0.1:1"}, {"--debug-file", "/bin/true"},
	} {
		t.Run(args[0], func(t *testing.T) {
			r := runGorigin(t, nil, nil, append([]string{"dump", dump}, args...)...)
			checkRun(t, r, 2, []string{args[0] + ": ", "gorigin attach PID"})
		})
	}
	r := runGorigin(t, nil, nil, "dump", dump, "--stacks", "--by", "location")
	checkRun(t, r, 0, nil)
}

// TestNoSuchProcess: a pid that never existed is "no such process" with every backend,
// not a process that "exited while gorigin attached".
func TestNoSuchProcess(t *testing.T) {
	t.Parallel()
	needGorigin(t)
	pid := unusedPid(t)
	for _, b := range backends {
		if b.name == "freeze-never" {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			needBackend(t, b.name)
			r := runGorigin(t, nil, nil, append([]string{"attach", strconv.Itoa(pid)}, b.flags...)...)
			checkRun(t, r, 2, []string{"no such process"})
			if strings.Contains(string(r.Stderr), "exited") {
				t.Errorf("says the process exited:\n%s", r.Stderr)
			}
		})
	}
}

// unusedPid is a pid no process has (just below pid_max, checked in /proc).
func unusedPid(t *testing.T) int {
	b, _ := os.ReadFile("/proc/sys/kernel/pid_max")
	max, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		max = 32768
	}
	for pid := max - 1; pid > max-1000; pid-- {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			return pid
		}
	}
	t.Skip("no free pid near pid_max")
	return 0
}

// TestBadOutputPath: an -o path that cannot be written is bad usage, found before the
// target is touched: the service was never stopped and serves on.
func TestBadOutputPath(t *testing.T) {
	t.Parallel()
	needGorigin(t)
	testenv.NeedPtrace(t)
	s := startService(t, plainService(t), "-n", fmt.Sprint(idleWorkers))
	for _, out := range []string{filepath.Join(t.TempDir(), "no-such-dir", "out.txt"), t.TempDir()} {
		r := runGorigin(t, nil, nil, "attach", strconv.Itoa(s.Pid), "-o", out)
		checkRun(t, r, 2, []string{"-o " + out})
	}
	s.checkServes(t)
}

// TestRootRefusedIsNotToldToRunAsRoot: gorigin as root of a user namespace (unshare
// --user --map-root-user) cannot trace a process outside it; it is root, so the message
// must not tell it to run as root, but say what else refuses it.
func TestRootRefusedIsNotToldToRunAsRoot(t *testing.T) {
	t.Parallel()
	bin := needGorigin(t)
	testenv.NeedPtrace(t)
	if err := exec.Command("unshare", "--user", "--map-root-user", "true").Run(); err != nil {
		t.Skipf("cannot make a user namespace (unshare --user): %v", err)
	}
	s := startService(t, plainService(t), "-n", fmt.Sprint(idleWorkers))
	r := runGorigin(t, nil, nil, "attach", strconv.Itoa(s.Pid)) // the same attach, allowed, for contrast
	checkRun(t, r, 0, nil)
	out, err := exec.Command("unshare", "--user", "--map-root-user", bin, "attach", strconv.Itoa(s.Pid)).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("gorigin attach as root of a user namespace: %v, want exit status 2\n%s", err, out)
	}
	if strings.Contains(string(out), "run as root") || !strings.Contains(string(out), "user namespace") {
		t.Errorf("the message to root:\n%s", out)
	}
	s.checkServes(t)
}

// TestCoreWithDamagedAllgs: a gcore core of the service whose runtime.allgs slice header
// says what the runtime never writes (a length beyond the capacity, an array nowhere in
// memory) is bad input, exit status 2, like any other damaged core.
func TestCoreWithDamagedAllgs(t *testing.T) {
	t.Parallel()
	needGorigin(t)
	testenv.NeedPtrace(t)
	if _, err := exec.LookPath("gcore"); err != nil {
		t.Skip("gcore (GDB) is not installed: .ci/run installs gdb")
	}
	exe := plainService(t)
	s := startService(t, exe, "-n", fmt.Sprint(idleWorkers))
	prefix := filepath.Join(t.TempDir(), "core")
	if out, err := exec.Command("gcore", "-o", prefix, strconv.Itoa(s.Pid)).CombinedOutput(); err != nil {
		t.Fatalf("gcore: %v\n%s", err, out)
	}
	path := prefix + "." + strconv.Itoa(s.Pid)
	// Where runtime.allgs's slice header is in the core file.
	xf, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	syms, err := xf.Symbols()
	xf.Close()
	if err != nil {
		t.Fatal(err)
	}
	var allgs uint64
	for _, sym := range syms {
		if sym.Name == "runtime.allgs" {
			allgs = sym.Value
		}
	}
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	cf, err := elf.NewFile(fh)
	if err != nil {
		t.Fatal(err)
	}
	off := int64(-1)
	for _, p := range cf.Progs {
		if p.Type == elf.PT_LOAD && allgs >= p.Vaddr && allgs+24 <= p.Vaddr+p.Filesz {
			off = int64(p.Off + allgs - p.Vaddr)
		}
	}
	if allgs == 0 || off < 0 {
		t.Fatalf("runtime.allgs (%#x) is not in the core", allgs)
	}
	header := make([]byte, 24)
	if _, err := fh.ReadAt(header, off); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	rows := []struct {
		name  string
		patch func(h []byte)
	}{
		{"a length beyond the capacity", func(h []byte) { le.PutUint64(h[8:], le.Uint64(h[16:])+1) }},
		{"an array nowhere in memory", func(h []byte) { le.PutUint64(h, 0x7ff0_dead_0000) }},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			h := append([]byte(nil), header...)
			row.patch(h)
			if _, err := fh.WriteAt(h, off); err != nil {
				t.Fatal(err)
			}
			defer fh.WriteAt(header, off)
			r := runGorigin(t, nil, nil, "core", path, "--exe", exe)
			checkRun(t, r, 2, []string{"runtime.allgs", "goroutine table is damaged"})
		})
	}
	r := runGorigin(t, nil, nil, "core", path, "--exe", exe, "--format", "json")
	checkRun(t, r, 0, nil) // undamaged again: the damage was all that differed
	checkIdle(t, decodeSnapshot(t, r))
}
