package delve

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gorigin-dev/gorigin/dbg"
)

func TestParseMapsLine(t *testing.T) {
	for _, c := range []struct {
		name, line string
		want       dbg.Mapping
		ok         bool
	}{
		{"file", "00400000-00452000 r-xp 00001000 08:02 173521   /usr/bin/my app", dbg.Mapping{Start: 0x400000, End: 0x452000, Offset: 0x1000, Perm: "r-xp", Path: "/usr/bin/my app"}, true},
		{"anonymous", "7ffc1000-7ffc2000 rw-p 00000000 00:00 0", dbg.Mapping{Start: 0x7ffc1000, End: 0x7ffc2000, Perm: "rw-p"}, true},
		{"deleted", "00400000-00452000 r-xp 00000000 08:02 17 /tmp/a (deleted)", dbg.Mapping{Start: 0x400000, End: 0x452000, Perm: "r-xp", Path: "/tmp/a (deleted)"}, true},
		{"garbage", "hello world", dbg.Mapping{}, false},
		{"bad hex", "zz-00452000 r-xp 00000000 08:02 17 /tmp/a", dbg.Mapping{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := parseMapsLine(c.line)
			if ok != c.ok || got != c.want {
				t.Errorf("parseMapsLine(%q) = %+v, %v; want %+v, %v", c.line, got, ok, c.want, c.ok)
			}
		})
	}
}

func TestStatusFields(t *testing.T) {
	state, tgid, tracer := statusFields("Name:\tx\nState:\tt (tracing stop)\nTgid:\t42\nTracerPid:\t7\n")
	if state != 't' || tgid != 42 || tracer != 7 {
		t.Errorf("got %c %d %d, want t 42 7", state, tgid, tracer)
	}
}

func TestCheckProcess(t *testing.T) {
	if err := checkProcess(os.Getpid()); err == nil {
		t.Error("attaching to itself: no error")
	}
	if err := checkProcess(-1); !errors.Is(err, dbg.ErrNoProcess) {
		t.Errorf("pid -1: %v, want ErrNoProcess", err)
	}
}

// TestVMRead reads this process's own memory: a readable region, an unreadable one (its
// failure reported by index, the others still filled) and an empty one.
func TestVMRead(t *testing.T) {
	src := []byte("gorigin reads memory")
	a := make([]byte, len(src))
	b := make([]byte, 8)
	c := make([]byte, 4)
	regions := []dbg.Region{
		{Addr: uint64(uintptr(unsafe.Pointer(&src[0]))), Buf: a},
		{Addr: 8, Buf: b}, // the zero page is never mapped
		{Addr: 0, Buf: nil},
		{Addr: uint64(uintptr(unsafe.Pointer(&src[8]))), Buf: c},
	}
	err := vmRead(os.Getpid(), regions)
	var re *dbg.ReadError
	if !errors.As(err, &re) || len(re.Failed) != 1 || re.Failed[0] != 1 {
		t.Fatalf("vmRead: %v, want region 1 failed", err)
	}
	if string(a) != string(src) || string(c) != "read" {
		t.Errorf("read %q and %q", a, c)
	}
}

// TestJobStopped: a process stopped by SIGSTOP is State T (what Freeze notes, to stop it
// again after Delve's detach); running again after SIGCONT, it is not.
func TestJobStopped(t *testing.T) {
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid
	wait := func(want bool) {
		t.Helper()
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
			if jobStopped(pid) == want {
				return
			}
		}
		t.Fatalf("jobStopped(%d) never became %v", pid, want)
	}
	wait(false)
	syscall.Kill(pid, syscall.SIGSTOP)
	wait(true)
	syscall.Kill(pid, syscall.SIGCONT)
	wait(false)
}
