package report

import (
	"io"
	"os"

	"github.com/gorigin-dev/gorigin/internal/terminal"
)

// ForTerminal returns opt fitted to w when w is a terminal: Width from the terminal's
// size (unless opt.Width is already set) and Color, unless NO_COLOR is set to anything
// (https://no-color.org) or TERM is "dumb". For anything else (a pipe, a file) opt is
// returned as it is: scripts get the plain, unshortened table.
func ForTerminal(w io.Writer, opt Options) Options {
	if !terminal.Is(w) {
		return opt
	}
	if opt.Width == 0 {
		opt.Width = terminal.Width(w)
	}
	opt.Color = os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
	return opt
}

// ErrBinaryToTerminal is returned by the binary formats (pprof) when asked to write to a
// terminal, where the bytes would only garble the screen.
var ErrBinaryToTerminal error = usageError("will not write a binary profile to a terminal: write it to a file with -o FILE.pb.gz, or redirect stdout")

// usageError is an error about how gorigin was asked to write: it has the method
// BadInput() bool that the command line's exit status reads (see dbg.BadInput).
type usageError string

func (e usageError) Error() string  { return string(e) }
func (e usageError) BadInput() bool { return true }
