package dap

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// A real /proc/net/tcp: a listener, a loopback connection seen from both ends (the
// client's row is uid 1000, the server's accepted socket root's) and a TIME_WAIT row.
const tcpTable = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:126F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 74563 1 00000000dffb4abd 100 0 0 10 0
   1: 0100007F:C350 0100007F:126F 01 00000000:00000000 00:00000000 00000000  1000        0 88120 1 000000003a0e6c1f 20 4 30 10 -1
   2: 0100007F:126F 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 88121 1 00000000c92e1aa0 20 4 31 10 -1
   3: 0100007F:8CB6 0100007F:8D29 06 00000000:00000000 03:000010A7 00000000     0        0 0 3 000000000f8eb57e
10000: 0100007F:C351 0100007F:126F 01 00000000:00000000 00:00000000 00000000 4294967294        0 88122 1 0000000000000000 20 4 30 10 -1
`

// A real /proc/net/tcp6: an IPv4 client of a dual-stack listener (IPv4-mapped) and an
// IPv6 loopback client.
const tcp6Table = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:D2F0 0000000000000000FFFF00000100007F:126F 01 00000000:00000000 00:00000000 00000000 65534        0 91001 1 0000000000000000 20 4 30 10 -1
   1: 00000000000000000000000001000000:D2F1 00000000000000000000000001000000:126F 01 00000000:00000000 00:00000000 00000000  1001        0 91002 1 0000000000000000 20 4 30 10 -1
`

func TestProcNetUID(t *testing.T) {
	v4 := func(port int) string { return procNetAddr(net.IPv4(127, 0, 0, 1).To4(), port) }
	v4in6 := func(port int) string { return procNetAddr(net.IPv4(127, 0, 0, 1).To16(), port) }
	v6 := func(port int) string { return procNetAddr(net.IPv6loopback, port) }
	for _, c := range []struct {
		name          string
		table         string
		local, remote string
		uid           int
		found         bool
	}{
		{"the client's row names the client's user", tcpTable, v4(0xC350), v4(0x126F), 1000, true},
		{"the server's own end is root's", tcpTable, v4(0x126F), v4(0xC350), 0, true},
		{"a uid over 65535 and a five-digit sl", tcpTable, v4(0xC351), v4(0x126F), 4294967294, true},
		{"a connection not in the table", tcpTable, v4(0xC352), v4(0x126F), -1, false},
		{"the header is not a row", tcpTable, "local_address", "rem_address", -1, false},
		{"an IPv4 client of a dual-stack socket", tcp6Table, v4in6(0xD2F0), v4in6(0x126F), 65534, true},
		{"an IPv6 loopback client", tcp6Table, v6(0xD2F1), v6(0x126F), 1001, true},
		{"empty", "", v4(1), v4(2), -1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			uid, found, err := procNetUID(strings.NewReader(c.table), c.local, c.remote)
			if err != nil || uid != c.uid || found != c.found {
				t.Errorf("procNetUID(%s, %s) = %d, %v, %v; want %d, %v", c.local, c.remote, uid, found, err, c.uid, c.found)
			}
		})
	}
	t.Run("a matching row with a bad uid is an error", func(t *testing.T) {
		bad := "   1: 0100007F:C350 0100007F:126F 01 00000000:00000000 00:00000000 00000000  -5        0 88120\n"
		if _, _, err := procNetUID(strings.NewReader(bad), v4(0xC350), v4(0x126F)); err == nil {
			t.Error("no error for uid -5")
		}
	})
	t.Run("a line over the bound is an error, not a huge buffer", func(t *testing.T) {
		long := "   1: " + strings.Repeat("0", 2*maxProcNetLine) + "\n"
		if _, _, err := procNetUID(strings.NewReader(long), v4(1), v4(2)); err == nil {
			t.Error("no error for an endless line")
		}
	})
}

func TestProcNetAddr(t *testing.T) {
	for _, c := range []struct {
		ip   net.IP
		port int
		want string
	}{
		{net.IPv4(127, 0, 0, 1).To4(), 8080, "0100007F:1F90"},
		{net.IPv4(10, 1, 2, 3).To4(), 1, "0302010A:0001"},
		{net.IPv6loopback, 4711, "00000000000000000000000001000000:1267"},
		{net.IPv4(127, 0, 0, 1).To16(), 4711, "0000000000000000FFFF00000100007F:1267"},
	} {
		if got := procNetAddr(c.ip, c.port); got != c.want {
			t.Errorf("procNetAddr(%v, %d) = %s, want %s", c.ip, c.port, got, c.want)
		}
	}
}

// FuzzProcNetUID: any table parses without panic; a row found holds both addresses and
// the uid it returns.
func FuzzProcNetUID(f *testing.F) {
	f.Add([]byte(tcpTable), "0100007F:C350", "0100007F:126F")
	f.Add([]byte(tcp6Table), "00000000000000000000000001000000:D2F1", "00000000000000000000000001000000:126F")
	f.Add([]byte("0: a b c d e f 7\n"), "a", "b")
	f.Fuzz(func(t *testing.T, table []byte, local, remote string) {
		uid, found, err := procNetUID(strings.NewReader(string(table)), local, remote)
		if err != nil || !found {
			if uid != -1 || found {
				t.Fatalf("not found (%v) but uid %d, found %v", err, uid, found)
			}
			return
		}
		if uid < 0 || uid > 1<<32-1 {
			t.Fatalf("uid %d out of range", uid)
		}
		if s := string(table); !strings.Contains(s, local) || !strings.Contains(s, remote) {
			t.Fatalf("found a row for %q → %q that the table does not contain", local, remote)
		}
	})
}

// TestPeerOf connects to itself over IPv4 and IPv6 loopback and a Unix socket: the
// kernel names this process's uid as the client's.
func TestPeerOf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("peer credentials are read on Linux")
	}
	for _, c := range []struct{ network, addr string }{
		{"tcp", "127.0.0.1:0"},
		{"tcp6", "[::1]:0"},
		{"tcp", "[::]:0"}, // dual stack: an IPv4 client is in tcp6, IPv4-mapped
		{"unix", filepath.Join(t.TempDir(), "s")},
	} {
		t.Run(c.network+" "+c.addr, func(t *testing.T) {
			ln, err := net.Listen(c.network, c.addr)
			if err != nil {
				t.Skipf("listen: %v", err)
			}
			defer ln.Close()
			dial := ln.Addr().String()
			if c.addr == "[::]:0" {
				dial = "127.0.0.1:" + strings.TrimPrefix(dial, "[::]:")
			}
			client, err := net.Dial(ln.Addr().Network(), dial)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			conn, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			p, err := peerOf(conn)
			if err != nil || p.UID != os.Getuid() {
				t.Errorf("peerOf = %+v, %v; want uid %d", p, err, os.Getuid())
			}
		})
	}
}

// TestMayRead: a file is opened for a client only if the client's user could read it
// by its mode bits: the file's and every directory's on the way.
func TestMayRead(t *testing.T) {
	if runtime.GOOS != "linux" || os.Getuid() != 0 {
		t.Skip("needs root on Linux (the files belong to another user)")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	write := func(name string, mode os.FileMode, uid int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		os.Chown(p, uid, uid)
		return p
	}
	secret := write("secret", 0o600, 0)
	public := write("public", 0o644, 0)
	own := write("own", 0o600, 65534)
	group := write("group", 0o640, 0) // group root: nobody is not in it
	closed := filepath.Join(dir, "closed")
	os.Mkdir(closed, 0o700)
	inside := filepath.Join(closed, "public")
	os.WriteFile(inside, []byte("x"), 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(secret, link)

	nobody, remote, root := Peer{UID: 65534}, Peer{UID: -1}, Peer{UID: 0}
	for _, c := range []struct {
		name string
		peer Peer
		path string
		ok   bool
	}{
		{"another user's 0600 file", nobody, secret, false},
		{"a 0644 file", nobody, public, true},
		{"the peer's own 0600 file", nobody, own, true},
		{"a 0640 file of a group the peer is not in", nobody, group, false},
		{"a 0644 file in a 0700 directory", nobody, inside, false},
		{"a link to another user's 0600 file", nobody, link, false},
		{"a remote client: another user's 0600 file", remote, own, false},
		{"a remote client: a 0644 file", remote, public, true},
		{"root reads everything", root, secret, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			real, err := c.peer.MayRead(c.path)
			switch {
			case c.ok && err != nil:
				t.Errorf("MayRead(%s) for uid %d: %v", c.path, c.peer.UID, err)
			case !c.ok && err == nil:
				t.Errorf("MayRead(%s) for uid %d allowed it (%s)", c.path, c.peer.UID, real)
			case !c.ok && !errors.Is(err, os.ErrPermission):
				t.Errorf("MayRead(%s): %v, want a permission error", c.path, err)
			}
		})
	}
	if real, err := root.MayRead(link); err != nil || real != secret {
		t.Errorf("MayRead(link) = %q, %v; want the resolved path %s", real, err, secret)
	}
}
