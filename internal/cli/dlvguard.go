//go:build !nodelve

package cli

import (
	"io"

	"github.com/gorigin-dev/gorigin/dbg/delve"
)

// runDlvGuard is the hidden command "gorigin __dlv-guard ADDR": the guard that continues
// the dlv session at ADDR if the gorigin that started it dies holding it halted
// (delve.RunGuard, reading that gorigin's pipe on stdin).
func runDlvGuard(args []string, stdin io.Reader, stderr io.Writer) int {
	if len(args) != 1 {
		return exitStatus(usageError{msg: dlvGuardCmd + " ADDR: gorigin runs it itself, with a pipe on stdin"}, stderr)
	}
	return delve.RunGuard(args[0], stdin, stderr)
}
