package report

import (
	"os"

	"golang.org/x/sys/unix"
)

// isTerminalFd asks the terminal driver, so /dev/null (a character device too) is no terminal.
func isTerminalFd(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
