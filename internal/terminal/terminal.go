// Package terminal is what gorigin knows of terminals: whether output goes to one, how wide
// it is, and a progress bar drawn there for long work (and nowhere else).
package terminal

import (
	"io"
	"os"
	"strconv"
)

// Is reports whether w is an *os.File open on a terminal (not merely a character device
// such as /dev/null).
func Is(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	return isTerminalFd(f)
}

// Width is the number of columns of the terminal w is open on, or 0 when w is no
// terminal or its size is unknown.
func Width(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return 0
	}
	return terminalWidth(f)
}

// thousands is n with commas between groups of three digits (n ≥ 0), as the report's
// tables write counts.
func thousands(n int) string {
	s := strconv.Itoa(n)
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
