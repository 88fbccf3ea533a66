package report

import (
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPprofRefusesTerminal(t *testing.T) {
	tty := openPty(t)
	s := apiServer()
	if err := Render(tty, "pprof", s, nil, Options{}); err != ErrBinaryToTerminal {
		t.Errorf("pprof to a terminal: %v, want ErrBinaryToTerminal", err)
	}
}

// openPty opens the terminal end of a new pseudo-terminal; Cleanup closes both ends.
func openPty(t *testing.T) *os.File {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here to test with: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	if !IsTerminal(tty) {
		t.Fatal("IsTerminal says a pty is not a terminal")
	}
	return tty
}
