package dap

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// unixPeerUID is the uid of the process at the other end of a Unix socket, from the
// credentials the kernel recorded when it connected.
func unixPeerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if credErr != nil {
		return -1, credErr
	}
	return int(cred.Uid), nil
}

// MayRead returns nil if the peer's user could open path for reading by the mode bits:
// every directory on the way searchable and the file readable, as its owner, a member
// of its group or anyone else. It returns the path with symbolic links resolved: open
// that one. Root may read everything; a peer whose uid is unknown (a remote client) only
// what anyone may. POSIX ACLs are not consulted, so a file readable only through an ACL
// is refused. It is a check before gorigin (root) opens the file, not an open with the
// peer's rights: it keeps a client from reading what its user could not, and only an
// allowed user can connect at all.
func (p Peer) MayRead(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	if p.UID == 0 {
		return real, nil
	}
	groups := p.groups()
	dirs := []string{}
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		dirs = append([]string{d}, dirs...)
		if d == "/" || d == "." {
			break
		}
	}
	for _, d := range dirs {
		if err := p.allowed(d, 1, groups); err != nil {
			return "", err
		}
	}
	if err := p.allowed(real, 4, groups); err != nil {
		return "", err
	}
	return real, nil
}

// allowed checks one permission bit (4 read, 1 search) of path for the peer.
func (p Peer) allowed(path string, bit uint32, groups map[uint32]bool) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: no owner information", path)
	}
	mode := st.Mode & 0o777
	var have uint32
	switch {
	case p.UID >= 0 && st.Uid == uint32(p.UID):
		have = mode >> 6
	case groups[st.Gid]:
		have = mode >> 3
	default:
		have = mode
	}
	if have&bit == 0 {
		what := "read"
		if bit == 1 {
			what = "enter the directory"
		}
		who := "uid " + strconv.Itoa(p.UID)
		if p.UID < 0 {
			who = "a remote client (anyone)"
		}
		return fmt.Errorf("%s: %w: %s, who connected, may not %s (gorigin opens files only for a client whose user could)", path, os.ErrPermission, who, what)
	}
	return nil
}

// groups are the peer user's groups, from the user database (none if it does not know
// the uid).
func (p Peer) groups() map[uint32]bool {
	g := map[uint32]bool{}
	if p.UID < 0 {
		return g
	}
	u, err := user.LookupId(strconv.Itoa(p.UID))
	if err != nil {
		return g
	}
	ids, _ := u.GroupIds()
	for _, id := range append(ids, u.Gid) {
		if n, err := strconv.ParseUint(id, 10, 32); err == nil {
			g[uint32(n)] = true
		}
	}
	return g
}
