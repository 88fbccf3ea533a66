package testenv

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// OpenPty opens a new pseudo-terminal: tty is the end a program writes to, master the end
// a terminal emulator reads (opened non-blocking, so read deadlines work on it). It skips
// the test where there are no pseudo-terminals; Cleanup closes both ends.
func OpenPty(t testing.TB) (tty, master *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here to test with: %v", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(fd)
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		t.Fatalf("pty number: %v", err)
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	t.Cleanup(func() { master.Close() })
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty, master
}

// SetPtySize sets the window size of the terminal tty is open on, as a terminal emulator
// does: cols columns, 40 rows.
func SetPtySize(t testing.TB, tty *os.File, cols int) {
	t.Helper()
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: uint16(cols)}); err != nil {
		t.Fatalf("set the pty's size: %v", err)
	}
}

// CapturePty reads what arrives at master from now on, while a program writes to the pty
// (a pty holds only a few KB), and returns the function that, once the program is done,
// waits at most wait for what is still buffered and returns all of it, the pty's \r\n made
// \n again.
func CapturePty(master *os.File) (received func(wait time.Duration) string) {
	got := make(chan []byte)
	go func() {
		var all []byte
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			all = append(all, buf[:n]...)
			if err != nil {
				got <- all
				return
			}
		}
	}()
	return func(wait time.Duration) string {
		master.SetReadDeadline(time.Now().Add(wait)) // then the reader stops
		return strings.ReplaceAll(string(<-got), "\r\n", "\n")
	}
}
