package cli

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// write sends output to stdout or, with -o, to a file. gorigin often runs as root, so -o
// never writes where the path's last component is a symlink to anything but a regular
// file owned by the user (the invoking user under sudo): a symlink planted in /tmp must
// not turn a report into a write to a device, a FIFO or someone else's file.
//
// A regular file (or a symlink to one the user owns) is written in full beside it and then
// renamed over it, so a failed run never leaves half a report; it keeps the existing
// file's mode and owner, and a new file gets 0666 less the umask, like any file the user
// creates. Any other file that exists and is not a symlink (/dev/null, a pipe, a
// terminal) is written to directly — never replaced. /dev/stdout and /dev/stderr are
// gorigin's own.
func write(f *flags, stdout io.Writer, emit func(io.Writer) error) error {
	switch f.out {
	case "", "-", "/dev/stdout":
		return emit(stdout)
	case "/dev/stderr":
		return emit(os.Stderr)
	}
	path, fi, err := outputTarget(f.out)
	if err != nil {
		return err
	}
	if fi != nil && !fi.Mode().IsRegular() {
		// O_NOFOLLOW: if the file was swapped for a symlink since the Lstat, fail.
		out, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return fmt.Errorf("write %s: %w", f.out, err)
		}
		if err := emit(out); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
	tmp, err := createBeside(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", f.out, err)
	}
	defer os.Remove(tmp.Name())
	if err := emit(tmp); err != nil {
		tmp.Close()
		return err
	}
	if fi != nil {
		if err := keepModeAndOwner(tmp, fi); err != nil {
			tmp.Close()
			return fmt.Errorf("write %s: %w", f.out, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", f.out, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", f.out, err)
	}
	return nil
}

// outputTarget is the path -o writes to and what is there now (nil: nothing). A symlink
// is followed only to a regular file the user owns, and then the path is the file's.
func outputTarget(out string) (string, fs.FileInfo, error) {
	fi, err := os.Lstat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("write %s: %w", out, err)
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return out, fi, nil
	}
	real, err := filepath.EvalSymlinks(out)
	if err != nil {
		return "", nil, usageError{msg: fmt.Sprintf("write %s: it is a symlink that does not lead to a file (%v): give the path of a regular file", out, err), err: err}
	}
	rfi, err := os.Lstat(real)
	if err != nil {
		return "", nil, fmt.Errorf("write %s: %w", out, err)
	}
	uid, who := invokingUser()
	if !rfi.Mode().IsRegular() {
		return "", nil, usageError{msg: fmt.Sprintf("write %s: it is a symlink to %s, which is %s, not a regular file; gorigin does not write through it: give the path itself", out, real, fileKind(rfi.Mode()))}
	}
	if st, ok := rfi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != uid {
		return "", nil, usageError{msg: fmt.Sprintf("write %s: it is a symlink to %s, which %s does not own; gorigin does not write through it: give the path itself", out, real, who)}
	}
	return real, rfi, nil
}

// invokingUser is the uid whose files -o may write through a symlink: gorigin's own, or,
// for root started by sudo, the user who ran sudo (SUDO_UID).
func invokingUser() (int, string) {
	uid := os.Geteuid()
	if uid == 0 {
		if s, err := strconv.Atoi(os.Getenv("SUDO_UID")); err == nil && s > 0 {
			return s, "uid " + strconv.Itoa(s) + " (who ran sudo)"
		}
	}
	return uid, "uid " + strconv.Itoa(uid)
}

// createBeside creates a new, empty file in path's directory with mode 0666 less the
// umask (the kernel applies it, as for any file the user creates).
func createBeside(path string) (*os.File, error) {
	var b [8]byte
	for range 10 {
		rand.Read(b[:])
		name := filepath.Join(filepath.Dir(path), ".gorigin-"+hex.EncodeToString(b[:]))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, errors.New("no unused temporary name beside it")
}

// keepModeAndOwner gives the new file the permissions of the file it replaces and, when
// gorigin may (as root), its owner and group.
func keepModeAndOwner(tmp *os.File, old fs.FileInfo) error {
	if err := tmp.Chmod(old.Mode().Perm()); err != nil {
		return err
	}
	if st, ok := old.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		return tmp.Chown(int(st.Uid), int(st.Gid))
	}
	return nil
}

// fileKind names what a non-regular file is, for messages.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeDir != 0:
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}
