package terminal

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"golang.org/x/sys/unix"
)

// TestIsAndWidth: a pty is a terminal of the size set on it; /dev/null, a character
// device, is none.
func TestIsAndWidth(t *testing.T) {
	tty, _ := testenv.OpenPty(t)
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
	tty, master := testenv.OpenPty(t)
	t.Setenv("TERM", "xterm")
	received := testenv.CapturePty(master)
	p := NewProgress(tty)
	p.Update("reading the target", 0, 0)
	time.Sleep(progressDelay + 2*progressEvery) // the ticker draws
	p.Clear()
	got := received(300 * time.Millisecond)
	if !strings.Contains(got, "\rgorigin: reading the target…") || !strings.HasSuffix(got, "\r\x1b[K") {
		t.Errorf("the terminal received %q", got)
	}
}
