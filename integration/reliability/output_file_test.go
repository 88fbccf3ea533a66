package reliability

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// runUmask runs the real gorigin with args under umask mask (through sh, so the test
// process's own umask, shared with parallel tests, is left alone).
func runUmask(t *testing.T, mask string, env []string, args ...string) (code int, stderr []byte) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", `umask ` + mask + ` && exec "$0" "$@"`, needGorigin(t)}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	if cmd.ProcessState == nil {
		t.Fatalf("run gorigin: %v", err)
	}
	return cmd.ProcessState.ExitCode(), errb.Bytes()
}

// TestOutputFile: -o through the real binary. A symlink planted where the report goes
// (to a FIFO, a device, a directory, nothing, or a file of another user) is refused with
// exit status 2 and nothing behind it is written; a symlink to the user's own regular
// file is written through; a new report honours the umask and an existing one keeps its
// mode; -o /dev/null still works.
func TestOutputFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	dump, _ := hostileDump()
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte(dump), 0o644); err != nil {
		t.Fatal(err)
	}
	report := func(out string) []string { return []string{"dump", in, "--format", "json", "-o", out} }
	mode := func(path string) os.FileMode {
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode()
	}

	t.Run("refused symlinks", func(t *testing.T) {
		fifo := filepath.Join(dir, "fifo")
		if err := syscall.Mkfifo(fifo, 0o666); err != nil {
			t.Fatal(err)
		}
		// Opened for reading without blocking: a write into the FIFO would land here and
		// would not block gorigin.
		r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		others := filepath.Join(dir, "others.txt")
		if err := os.WriteFile(others, []byte("theirs"), 0o644); err != nil {
			t.Fatal(err)
		}
		targets := map[string]string{"fifo": fifo, "device": "/dev/null", "directory": dir, "dangling": filepath.Join(dir, "nothing")}
		if os.Chown(others, 65534, 65534) == nil { // nobody's: only root may give it away
			targets["another user's file"] = others
		}
		for name, target := range targets {
			link := filepath.Join(dir, "link-"+name)
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			code, stderr := runUmask(t, "022", nil, report(link)...)
			if code != 2 || !bytes.Contains(stderr, []byte("symlink")) {
				t.Errorf("-o symlink to %s: exit %d, want 2 and a message about the symlink: %s", name, code, stderr)
			}
			if mode(link)&os.ModeSymlink == 0 {
				t.Errorf("-o symlink to %s: the symlink was replaced", name)
			}
		}
		buf := make([]byte, 256)
		if n, _ := r.Read(buf); n > 0 {
			t.Errorf("the FIFO behind a symlink got %q", buf[:n])
		}
		if b, _ := os.ReadFile(others); string(b) != "theirs" {
			t.Errorf("another user's file behind a symlink holds %.40q", b)
		}
		if _, err := os.Lstat(filepath.Join(dir, "nothing")); err == nil {
			t.Error("the dangling symlink's target was created")
		}
	})

	t.Run("under sudo, a symlink to root's file", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root")
		}
		rootFile := filepath.Join(dir, "root-owned.txt")
		if err := os.WriteFile(rootFile, []byte("root's"), 0o644); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "link-root")
		if err := os.Symlink(rootFile, link); err != nil {
			t.Fatal(err)
		}
		code, stderr := runUmask(t, "022", []string{"SUDO_UID=65534"}, report(link)...)
		if code != 2 {
			t.Errorf("sudo by uid 65534, -o symlink to root's file: exit %d, want 2: %s", code, stderr)
		}
		if b, _ := os.ReadFile(rootFile); string(b) != "root's" {
			t.Errorf("root's file behind the symlink holds %.40q", b)
		}
	})

	t.Run("symlink to own file", func(t *testing.T) {
		own := filepath.Join(dir, "own.json")
		if err := os.WriteFile(own, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "link-own")
		if err := os.Symlink(own, link); err != nil {
			t.Fatal(err)
		}
		if code, stderr := runUmask(t, "022", nil, report(link)...); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if mode(link)&os.ModeSymlink == 0 || mode(own) != 0o600 {
			t.Errorf("link %v, file %v: want the link kept and the file still 0600", mode(link), mode(own))
		}
		if b, _ := os.ReadFile(own); !bytes.Contains(b, []byte(`"schema"`)) {
			t.Errorf("the file behind the link holds %.80q, want the report", b)
		}
	})

	t.Run("modes", func(t *testing.T) {
		for _, c := range []struct {
			umask    string
			existing os.FileMode // 0: no file yet
			want     os.FileMode
		}{
			{"077", 0, 0o600},
			{"027", 0, 0o640},
			{"022", 0, 0o644},
			{"022", 0o600, 0o600},
			{"077", 0o644, 0o644},
		} {
			out := filepath.Join(dir, "report-"+c.umask+"-"+strconv.FormatUint(uint64(c.existing), 8)+".json")
			if c.existing != 0 {
				if err := os.WriteFile(out, []byte("old"), c.existing); err != nil {
					t.Fatal(err)
				}
				os.Chmod(out, c.existing)
			}
			if code, stderr := runUmask(t, c.umask, nil, report(out)...); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if m := mode(out); m != c.want {
				t.Errorf("umask %s, existing %v: report mode %v, want %v", c.umask, c.existing, m, c.want)
			}
		}
	})

	t.Run("/dev/null", func(t *testing.T) {
		if code, stderr := runUmask(t, "022", nil, report("/dev/null")...); code != 0 {
			t.Errorf("-o /dev/null: exit %d: %s", code, stderr)
		}
		if mode("/dev/null")&os.ModeCharDevice == 0 {
			t.Errorf("/dev/null is now %v", mode("/dev/null"))
		}
	})
}
