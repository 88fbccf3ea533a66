package integration

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// TestCoreBadInput feeds gorigin core what is not a usable core of a Go program: each
// must exit with status 2 and say what is wrong.
func TestCoreBadInput(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	dir := t.TempDir()
	v := hostVariant(t)
	fixtureBin := fixtureBinary(t, v)
	other := fixtureBinary(t, variant{Toolchain: "go1.20.14"})

	// A kernel core of a copy of the fixture, which is deleted for the last case.
	exe := filepath.Join(dir, "fixture-copy")
	copyFile(t, fixtureBin, exe, 0o755)
	k := startCrashingFixture(t, exe)
	goCore := k.crash(t)

	text := filepath.Join(dir, "dump.txt")
	if err := os.WriteFile(text, []byte("goroutine 1 [running]:\nmain.main()\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sleepCore := sleepCore(t, dir)
	truncated := filepath.Join(dir, "truncated.core")
	copyPrefix(t, sleepCore, truncated, fileSize(t, sleepCore)/2)

	cases := []struct {
		name string
		args []string
		want []string // substrings of the message
	}{
		{"an ELF program, not a core", []string{fixtureBin}, []string{"not a core (ET_CORE)", "ET_EXEC"}},
		{"a text file", []string{text}, []string{"is not an ELF file"}},
		{"a truncated core", []string{truncated}, []string{"truncated"}},
		{"a core with the wrong --exe", []string{goCore, "--exe", other}, []string{"is not the program that dumped", "--exe"}},
		{"a core with a missing --exe", []string{goCore, "--exe", filepath.Join(dir, "nonexistent")}, []string{"does not exist", "--exe"}},
		{"a core of a program that is not Go", []string{sleepCore}, []string{"not a Go program"}},
		{"a core whose executable is gone", []string{goCore}, []string{"cannot find the executable", exe, "--exe"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "a core whose executable is gone" {
				if err := os.Remove(exe); err != nil {
					t.Fatal(err)
				}
			}
			r := runGorigin(t, nil, append([]string{"core"}, c.args...)...)
			if r.Code != 2 {
				t.Errorf("exit status %d, want 2\n%v", r.Code, r)
			}
			for _, w := range c.want {
				if !strings.Contains(string(r.Stderr), w) {
					t.Errorf("message does not say %q:\n%s", w, r.Stderr)
				}
			}
			if strings.Contains(string(r.Stderr), "panic") {
				t.Errorf("gorigin panicked:\n%s", r.Stderr)
			}
		})
	}
}

// sleepCore is a gcore of a sleep process: a core of a program that is not Go.
func sleepCore(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep command: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for { // wait until it has exec'd sleep
		if p, err := os.Readlink("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/exe"); err == nil && strings.HasSuffix(p, "sleep") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sleep did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return gcore(t, cmd.Process.Pid, dir)
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

func copyPrefix(t *testing.T, from, to string, n int64) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(out, in, n); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
