package procfs

import (
	"errors"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gorigin-dev/gorigin/dbg"
)

func TestParseMaps(t *testing.T) {
	const text = `00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon
00651000-00652000 rw-p 00051000 08:02 173521      /usr/bin/my prog (deleted)
7ffd5d1b4000-7ffd5d1d5000 rw-p 00000000 00:00 0                          [stack]
7f0000000000-7f0000001000 ---p 00000000 00:00 0 
00400000-00452000 r-xp 00001000 08:02 17 /tmp/two  spaces
7ffc1000-7ffc2000 rw-p 00000000 00:00 0
`
	want := []dbg.Mapping{
		{Start: 0x400000, End: 0x452000, Offset: 0, Perm: "r-xp", Path: "/usr/bin/dbus-daemon"},
		{Start: 0x651000, End: 0x652000, Offset: 0x51000, Perm: "rw-p", Path: "/usr/bin/my prog (deleted)"},
		{Start: 0x7ffd5d1b4000, End: 0x7ffd5d1d5000, Perm: "rw-p", Path: "[stack]"},
		{Start: 0x7f0000000000, End: 0x7f0000001000, Perm: "---p", Path: ""},
		{Start: 0x400000, End: 0x452000, Offset: 0x1000, Perm: "r-xp", Path: "/tmp/two  spaces"},
		{Start: 0x7ffc1000, End: 0x7ffc2000, Perm: "rw-p"},
	}
	got, err := ParseMaps(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ParseMaps =\n%+v\nwant\n%+v", got, want)
	}
	for _, bad := range []string{"zzz", "hello world", "00400000 r-xp 0 0 0", "zz-00452000 r-xp 00000000 08:02 17 /tmp/a",
		"2000-1000 r-xp 0 08:02 1 x", "1000-2000 r-xp"} {
		if _, err := ParseMaps(strings.NewReader(bad + "\n")); err == nil {
			t.Errorf("ParseMaps(%q) succeeded, want an error", bad)
		}
	}
}

// TestMapsOfSelf: the oracle is this process itself: the code of this very function lies
// in an executable mapping of the test binary, and the stack of no one else.
func TestMapsOfSelf(t *testing.T) {
	maps, err := Maps(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pc := uint64(reflect.ValueOf(TestMapsOfSelf).Pointer())
	i := slices.IndexFunc(maps, func(m dbg.Mapping) bool { return m.Start <= pc && pc < m.End })
	if i < 0 || maps[i].Perm[2] != 'x' || maps[i].Path != exe {
		t.Errorf("mapping of pc %#x: %+v, want an executable mapping of %s", pc, maps[max(i, 0)], exe)
	}
}

func TestMapsOfNoProcess(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("no true: %v", err)
	}
	if _, err := Maps(cmd.Process.Pid); !errors.Is(err, dbg.ErrExited) {
		t.Errorf("Maps of a reaped pid: %v, want dbg.ErrExited", err)
	}
}

func TestParseStatus(t *testing.T) {
	got := ParseStatus([]byte("Name:\tx\nState:\tt (tracing stop)\nTgid:\t42\nTracerPid:\t7\n"))
	if want := (Status{State: 't', Tgid: 42, TracerPid: 7}); got != want {
		t.Errorf("ParseStatus = %+v, want %+v", got, want)
	}
}

// TestStatusAndTasksOfSelf: this process is its own thread group, runs, is traced by no
// one (tests do not run under a debugger), and the thread running this is one of its tasks.
func TestStatusAndTasksOfSelf(t *testing.T) {
	st, err := ReadStatus(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// The process's state is its main thread's, which may be asleep while this test runs
	// on another thread; the thread reading its own status is running.
	if st.Tgid != os.Getpid() || (st.State != 'R' && st.State != 'S') {
		t.Errorf("ReadStatus(self) = %+v, want Tgid %d, State R or S", st, os.Getpid())
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if me, err := ReadTaskStatus(os.Getpid(), syscall.Gettid()); err != nil || me.State != 'R' || me.Tgid != os.Getpid() {
		t.Errorf("ReadTaskStatus(self, this thread) = %+v, %v; want State R, Tgid %d", me, err, os.Getpid())
	}
	tids, err := Tasks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if tid := syscall.Gettid(); !slices.Contains(tids, tid) || !slices.IsSorted(tids) {
		t.Errorf("Tasks(self) = %v, want them sorted, with %d", tids, tid)
	}
	if ts, err := ReadTaskStatus(os.Getpid(), tids[0]); err != nil || ts.Tgid != os.Getpid() {
		t.Errorf("ReadTaskStatus(self, %d) = %+v, %v", tids[0], ts, err)
	}
}

// TestJobStopped: a process stopped by SIGSTOP is State T (what the backends note, to stop
// it again after a detach); running again after SIGCONT, it is not.
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
			if JobStopped(pid) == want {
				return
			}
		}
		t.Fatalf("JobStopped(%d) never became %v", pid, want)
	}
	wait(false)
	syscall.Kill(pid, syscall.SIGSTOP)
	wait(true)
	syscall.Kill(pid, syscall.SIGCONT)
	wait(false)
}

// TestDead: a running process is not dead; killed, it is a zombie until reaped (every
// thread exited: dead), and once reaped its /proc entry is gone (dead). The oracle is the
// kernel's own wait status: the pid is reapable only once the process has exited.
func TestDead(t *testing.T) {
	if Dead(os.Getpid()) {
		t.Errorf("Dead(self) = true")
	}
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep: %v", err)
	}
	pid := cmd.Process.Pid
	if Dead(pid) {
		t.Errorf("Dead(%d) = true while it sleeps", pid)
	}
	cmd.Process.Kill()
	// Wait for the exit without reaping it (WNOWAIT): the zombie stays.
	var info [128]byte
	if _, _, errno := syscall.Syscall6(syscall.SYS_WAITID, 1 /* P_PID */, uintptr(pid), uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|0x01000000 /* WNOWAIT */, 0, 0); errno != 0 {
		t.Fatalf("waitid(%d, WNOWAIT): %v", pid, errno)
	}
	if !Dead(pid) {
		st, _ := ReadStatus(pid)
		t.Errorf("Dead(%d) = false for a zombie (State %c)", pid, st.State)
	}
	cmd.Wait()
	if !Dead(pid) {
		t.Errorf("Dead(%d) = false once reaped", pid)
	}
}
