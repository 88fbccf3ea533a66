package terminal

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestIsAndWidth: a pty is a terminal of the size set on it; /dev/null, a character
// device, is none.
func TestIsAndWidth(t *testing.T) {
	tty, _ := openPtyPair(t)
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 97}); err != nil {
		t.Fatal(err)
	}
	if !Is(tty) || Width(tty) != 97 {
		t.Errorf("a pty of 97 columns: Is %v, Width %d", Is(tty), Width(tty))
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if Is(null) || Width(null) != 0 {
		t.Errorf("/dev/null: Is %v, Width %d", Is(null), Width(null))
	}
}

func TestProgressOnAPty(t *testing.T) {
	tty, master := openPtyPair(t)
	t.Setenv("TERM", "xterm")
	p := NewProgress(tty)
	p.Update("reading the target", 0, 0)
	time.Sleep(progressDelay + 2*progressEvery) // the ticker draws
	p.Clear()
	master.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var all []byte
	buf := make([]byte, 4096)
	for {
		n, err := master.Read(buf)
		all = append(all, buf[:n]...)
		if err != nil {
			break
		}
	}
	got := string(all)
	if !strings.Contains(got, "\rgorigin: reading the target…") || !strings.HasSuffix(got, "\r\x1b[K") {
		t.Errorf("the terminal received %q", got)
	}
}

// openPtyPair opens a new pseudo-terminal: tty is the end a program writes to, master the
// end a terminal emulator reads. Cleanup closes both.
func openPtyPair(t *testing.T) (tty, master *os.File) {
	t.Helper()
	// Opened non-blocking so that master is pollable: read deadlines work on it.
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
