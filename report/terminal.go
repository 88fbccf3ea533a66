package report

import (
	"errors"
	"io"
	"os"
)

// ErrBinaryToTerminal is returned by the binary formats (pprof) when asked to write to a
// terminal, where the bytes would only garble the screen.
var ErrBinaryToTerminal = errors.New("will not write a binary profile to a terminal: write it to a file with -o FILE.pb.gz, or redirect stdout")

// IsTerminal reports whether w is an *os.File open on a terminal (not merely a
// character device such as /dev/null).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	return isTerminalFd(f)
}
