package runtimegdb

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// trusted checks that nobody but root and the user running gorigin can change the script
// at path: GDB runs what it sources with gorigin's rights, and those are root's. The file
// and every directory above it must be owned by root or by that user and writable by
// neither group nor others — except a directory with the sticky bit owned by root (/tmp),
// in which only an entry's owner can rename or remove it. The path is resolved first, so
// a symlink is judged by what it points to (and the directories on the way there).
//
// "The user running gorigin" is the real uid and, under sudo, SUDO_UID: a user who could
// run gorigin as root could run the script as root anyway.
func trusted(path string) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	owners := trustedOwners()
	for p := real; ; p = filepath.Dir(p) {
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		mode := os.FileMode(st.Mode & 0o7777)
		dir := st.Mode&syscall.S_IFMT == syscall.S_IFDIR
		stickyRoot := dir && st.Mode&syscall.S_ISVTX != 0 && st.Uid == 0 && p != real
		switch {
		case !owners[st.Uid]:
			return fmt.Errorf("%s (%s) is owned by uid %d, which is neither root nor the user running gorigin", path, p, st.Uid)
		case st.Mode&0o022 != 0 && !stickyRoot:
			return fmt.Errorf("%s (%s, mode %v) is writable by other users", path, p, mode)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// trustedOwners are the uids whose files trusted accepts.
func trustedOwners() map[uint32]bool {
	owners := map[uint32]bool{0: true, uint32(os.Getuid()): true, uint32(os.Geteuid()): true}
	if os.Geteuid() == 0 {
		if uid, err := strconv.ParseUint(os.Getenv("SUDO_UID"), 10, 32); err == nil {
			owners[uint32(uid)] = true
		}
	}
	return owners
}
