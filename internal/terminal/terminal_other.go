//go:build !linux

package terminal

import (
	"os"
	"strconv"
)

// isTerminalFd is a best guess where the terminal driver is not asked: a character device.
func isTerminalFd(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// terminalWidth is unknown where the terminal driver is not asked; $COLUMNS when exported.
func terminalWidth(f *os.File) int {
	n, err := strconv.Atoi(os.Getenv("COLUMNS"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}
