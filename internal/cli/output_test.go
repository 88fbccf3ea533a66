package cli

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func writeString(t *testing.T, out, s string) error {
	t.Helper()
	return write(&flags{out: out}, nil, func(w io.Writer) error { _, err := io.WriteString(w, s); return err })
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

// TestOutputFileModes: a new report gets 0666 less the umask; an existing file keeps its
// mode, written through a symlink or not.
func TestOutputFileModes(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()

	fresh := filepath.Join(dir, "new.txt")
	if err := writeString(t, fresh, "a"); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, fresh); m != 0o600 {
		t.Errorf("new report under umask 077: mode %v, want -rw-------", m)
	}

	for _, perm := range []os.FileMode{0o600, 0o640, 0o604} {
		file := filepath.Join(dir, "existing-"+perm.String()+".txt")
		if err := os.WriteFile(file, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(file, perm)
		if err := writeString(t, file, "new"); err != nil {
			t.Fatal(err)
		}
		if m := mode(t, file); m != perm {
			t.Errorf("report over an existing %v file: mode %v", perm, m)
		}
		if b, _ := os.ReadFile(file); string(b) != "new" {
			t.Errorf("%s holds %q", file, b)
		}
	}
}

// TestOutputSymlinkToOwnRegularFile: a symlink to a regular file the user owns is written
// through: the link stays, the file it names gets the report and keeps its mode.
func TestOutputSymlinkToOwnRegularFile(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.txt")
	if err := os.WriteFile(real, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	os.Chmod(real, 0o640)
	link := filepath.Join(dir, "link.txt")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := writeString(t, link, "report"); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, link); m&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced by a %v file", m)
	}
	if b, _ := os.ReadFile(real); string(b) != "report" {
		t.Errorf("the file behind the link holds %q", b)
	}
	if m := mode(t, real); m != 0o640 {
		t.Errorf("the file behind the link: mode %v, want 0640", m)
	}
}

// TestOutputRefusesSymlinks: a symlink to a FIFO, a device, a directory or another user's
// file is refused with a usage error (exit 2) and nothing behind it is touched.
func TestOutputRefusesSymlinks(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	// A reader that never blocks the writer: if gorigin wrote into the FIFO, it is here.
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	others := filepath.Join(dir, "others.txt")
	if err := os.WriteFile(others, []byte("theirs"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := os.Getuid() + 4242 // an owner that is not us (needs root to chown: else skipped)
	canChown := os.Chown(others, other, other) == nil

	for name, target := range map[string]string{
		"fifo": fifo, "device": "/dev/null", "directory": dir, "dangling": filepath.Join(dir, "nothing"), "others": others,
	} {
		if name == "others" && !canChown {
			continue
		}
		t.Run(name, func(t *testing.T) {
			link := filepath.Join(dir, "link-"+name)
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			err := writeString(t, link, "report")
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("write through a symlink to %s: %v, want a usage error", name, err)
			}
			if m := mode(t, link); m&os.ModeSymlink == 0 {
				t.Errorf("the symlink was replaced: %v", m)
			}
			t.Logf("%v", err)
		})
	}
	buf := make([]byte, 64)
	if n, _ := r.Read(buf); n > 0 {
		t.Errorf("the FIFO behind a symlink got %q", buf[:n])
	}
	if b, _ := os.ReadFile(others); string(b) != "theirs" {
		t.Errorf("another user's file behind a symlink now holds %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "nothing")); err == nil {
		t.Error("a dangling symlink's target was created")
	}
}

// TestOutputSudoUser: under sudo (root with SUDO_UID), a symlink is followed only to a
// file the user who ran sudo owns, not to root's.
func TestOutputSudoUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	t.Setenv("SUDO_UID", "4242")
	dir := t.TempDir()
	rootFile := filepath.Join(dir, "root.txt")
	userFile := filepath.Join(dir, "user.txt")
	for _, f := range []string{rootFile, userFile} {
		if err := os.WriteFile(f, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(userFile, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	os.Symlink(rootFile, filepath.Join(dir, "to-root"))
	os.Symlink(userFile, filepath.Join(dir, "to-user"))
	var ue usageError
	if err := writeString(t, filepath.Join(dir, "to-root"), "report"); !errors.As(err, &ue) {
		t.Errorf("sudo, symlink to root's file: %v, want refused", err)
	}
	if err := writeString(t, filepath.Join(dir, "to-user"), "report"); err != nil {
		t.Errorf("sudo, symlink to the invoking user's file: %v", err)
	}
	fi, err := os.Stat(userFile)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4242 {
		t.Errorf("the user's report now belongs to uid %d, want 4242 (kept)", st.Uid)
	}
	if b, _ := os.ReadFile(userFile); string(b) != "report" {
		t.Errorf("the user's file holds %q", b)
	}
}
