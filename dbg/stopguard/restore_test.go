package stopguard

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// mappingStart is the start of the first mapping of pid whose line in maps has want.
func mappingStart(t *testing.T, pid int, want string) uint64 {
	t.Helper()
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(maps), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.Contains(line, want) {
			lo, _, _ := strings.Cut(f[0], "-")
			a, err := strconv.ParseUint(lo, 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
	}
	t.Fatalf("no %s mapping", want)
	return 0
}

// TestGuardRestoresCode: code given to RestoreOnDeath is written back into a target
// whose code was overwritten (as a killed Delve leaves its int3s) when gorigin dies, and
// the target is resumed; with Release nothing is written.
func TestGuardRestoresCode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("writes another process's code through /proc/PID/mem: needs root")
	}
	for _, died := range []bool{true, false} {
		t.Run(map[bool]string{true: "gorigin died", false: "released"}[died], func(t *testing.T) {
			target := startStopped(t)
			pid := target.Process.Pid
			mem, err := os.OpenFile(fmt.Sprintf("/proc/%d/mem", pid), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer mem.Close()
			at := int64(mappingStart(t, pid, "r-xp")) + 64
			orig := make([]byte, 300) // bytes of every value: NUL, %, backslash, 0xff
			if _, err := mem.ReadAt(orig, at); err != nil {
				t.Fatal(err)
			}
			broken := bytes.Repeat([]byte{0xcc}, len(orig))
			if _, err := mem.WriteAt(broken, at); err != nil {
				t.Fatal(err)
			}
			g, err := Start(pid, "test-guard")
			if err != nil {
				t.Fatal(err)
			}
			g.RestoreOnDeath(uint64(at), orig)
			if died {
				g.Resume()
				waitState(t, pid, "S", "R")
			} else {
				g.Release()
			}
			now := make([]byte, len(orig))
			if _, err := mem.ReadAt(now, at); err != nil {
				t.Fatal(err)
			}
			want := orig
			if !died {
				want = broken
			}
			if !bytes.Equal(now, want) {
				t.Errorf("code at %#x after the guard: % x…, want % x…", at, now[:16], want[:16])
			}
			if died {
				if s := state(t, pid); s != "S" && s != "R" {
					t.Errorf("the target is %q, want running again", s)
				}
			}
		})
	}
}

// TestRestoreLineEscapesEveryByte: every byte value goes through the shell's printf. They
// are written at the far end of the target's stack mapping, which sleep never reaches:
// code this garbled would crash it once resumed.
func TestRestoreLineEscapesEveryByte(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	target := startStopped(t)
	pid := target.Process.Pid
	mem, err := os.OpenFile(fmt.Sprintf("/proc/%d/mem", pid), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	at := int64(mappingStart(t, pid, "[stack]")) + 256
	orig := make([]byte, 256)
	if _, err := mem.ReadAt(orig, at); err != nil {
		t.Fatal(err)
	}
	defer mem.WriteAt(orig, at)
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	g, err := Start(pid, "test-guard")
	if err != nil {
		t.Fatal(err)
	}
	g.RestoreOnDeath(uint64(at), every)
	g.Resume()
	now := make([]byte, 256)
	if _, err := mem.ReadAt(now, at); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(now, every) {
		t.Errorf("wrote % x, want every byte value in order", now)
	}
}
