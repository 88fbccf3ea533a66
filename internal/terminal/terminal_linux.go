package terminal

import (
	"os"

	"golang.org/x/sys/unix"
)

// isTerminalFd asks the terminal driver, so /dev/null (a character device too) is no terminal.
func isTerminalFd(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// terminalWidth asks the terminal driver for the window's size (TIOCGWINSZ).
func terminalWidth(f *os.File) int {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}
