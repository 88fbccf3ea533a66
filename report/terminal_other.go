//go:build !linux

package report

import "os"

// isTerminalFd is a best guess where the terminal driver is not asked: a character device.
func isTerminalFd(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
