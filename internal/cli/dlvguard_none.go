//go:build nodelve

package cli

import "io"

// runDlvGuard has no dlv session to guard in a gorigin built without Delve.
func runDlvGuard(_ []string, _ io.Reader, stderr io.Writer) int {
	return exitStatus(usageError{msg: "this gorigin was built with -tags nodelve, without Delve: it guards no dlv session"}, stderr)
}
