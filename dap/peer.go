package dap

// Who is on the other end of a connection. gorigin dap usually runs as root: whoever
// may talk to it may read the memory of every process on the host, so a socket listener
// serves only the users it was told to (Listener.Allowed), as the kernel names them.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
)

// A Peer is the user at the other end of a connection.
type Peer struct {
	// UID is the user the kernel says owns the client's socket; -1 when it cannot
	// know (a TCP client on another host, with --allow-remote).
	UID  int
	Addr string // the client's address, for messages
}

// peerOf says who is at the other end of conn: the credentials of a Unix socket
// (SO_PEERCRED), or, for TCP, the owner of the client's socket in the kernel's table of
// this network namespace (/proc/net/tcp, /proc/net/tcp6). A TCP client that is not in
// the table is on another host: UID -1, no error.
func peerOf(conn net.Conn) (Peer, error) {
	p := Peer{UID: -1, Addr: conn.RemoteAddr().String()}
	switch c := conn.(type) {
	case *net.UnixConn:
		uid, err := unixPeerUID(c)
		if err != nil {
			return p, fmt.Errorf("read the peer's credentials (SO_PEERCRED): %w", err)
		}
		p.UID, p.Addr = uid, fmt.Sprintf("unix socket, uid %d", uid)
		return p, nil
	case *net.TCPConn:
		local, lok := c.LocalAddr().(*net.TCPAddr)
		remote, rok := c.RemoteAddr().(*net.TCPAddr)
		if !lok || !rok {
			return p, fmt.Errorf("not a TCP connection")
		}
		uid, found, err := tcpPeerUID(local, remote)
		if err != nil {
			return p, err
		}
		if found {
			p.UID = uid
		} else if remote.IP.IsLoopback() {
			// A loopback client is on this host: its socket must be in the table (it
			// may have closed already).
			return p, fmt.Errorf("the client's socket %v is not in /proc/net/tcp (did it close?)", remote)
		}
		return p, nil
	}
	return p, fmt.Errorf("a %T: gorigin cannot tell who is connected", conn)
}

// tcpPeerUID finds the socket of the client of a connection (local is gorigin's end,
// remote the client's) in /proc/net/tcp or /proc/net/tcp6 and returns its owner.
func tcpPeerUID(local, remote *net.TCPAddr) (uid int, found bool, err error) {
	type lookup struct{ file, local, remote string }
	var tries []lookup
	if l4, r4 := local.IP.To4(), remote.IP.To4(); l4 != nil && r4 != nil {
		// The client's view: its own address is remote, its peer is local. An IPv4
		// client of a dual-stack socket is in tcp6, as an IPv4-mapped address.
		tries = append(tries,
			lookup{"/proc/net/tcp", procNetAddr(r4, remote.Port), procNetAddr(l4, local.Port)},
			lookup{"/proc/net/tcp6", procNetAddr(remote.IP.To16(), remote.Port), procNetAddr(local.IP.To16(), local.Port)})
	} else {
		tries = append(tries, lookup{"/proc/net/tcp6", procNetAddr(remote.IP.To16(), remote.Port), procNetAddr(local.IP.To16(), local.Port)})
	}
	for _, l := range tries {
		f, err := os.Open(l.file)
		if os.IsNotExist(err) {
			continue // no IPv6 in this kernel
		}
		if err != nil {
			return -1, false, fmt.Errorf("read the kernel's socket table to see who connected: %w", err)
		}
		uid, found, err = procNetUID(f, l.local, l.remote)
		f.Close()
		if err != nil {
			return -1, false, fmt.Errorf("%s: %w", l.file, err)
		}
		if found {
			return uid, true, nil
		}
	}
	return -1, false, nil
}

// procNetAddr is an address as /proc/net/tcp{,6} write it: the address's 32-bit words
// each in host (little-endian) order, in hex, then the port: "0100007F:1F90".
func procNetAddr(ip net.IP, port int) string {
	var b strings.Builder
	for i := 0; i+4 <= len(ip); i += 4 {
		fmt.Fprintf(&b, "%02X%02X%02X%02X", ip[i+3], ip[i+2], ip[i+1], ip[i])
	}
	fmt.Fprintf(&b, ":%04X", port)
	return b.String()
}

// maxProcNetLine bounds a line of /proc/net/tcp (the kernel's are 150 bytes).
const maxProcNetLine = 4096

// procNetUID reads a socket table in the format of /proc/net/tcp and /proc/net/tcp6 and
// returns the uid column of the row whose local_address is local and rem_address is
// remote (both as procNetAddr writes them, in upper case as the kernel does). Rows it
// cannot parse are skipped; a row that matches but has no valid uid is an error.
func procNetUID(r io.Reader, local, remote string) (uid int, found bool, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxProcNetLine)
	for sc.Scan() {
		// "  sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid  timeout inode"
		f := strings.Fields(sc.Text())
		if len(f) < 8 || !strings.HasSuffix(f[0], ":") {
			continue
		}
		if f[1] != local || f[2] != remote {
			continue
		}
		u, err := strconv.ParseUint(f[7], 10, 32)
		if err != nil {
			return -1, false, fmt.Errorf("the row of %s → %s has uid %q", local, remote, f[7])
		}
		return int(u), true, nil
	}
	if err := sc.Err(); err != nil {
		return -1, false, err
	}
	return -1, false, nil
}
