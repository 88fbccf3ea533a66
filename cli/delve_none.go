//go:build nodelve

package cli

// A gorigin built with -tags nodelve has no Delve backends: it is smaller and builds
// faster (see the README), and --backend delve and --dlv say so.

import (
	"io"

	"github.com/gorigin-dev/gorigin/snapshot"
)

const noDelve = "this gorigin was built with -tags nodelve, without Delve: use --backend native (or gdb), or a gorigin built without that tag"

func attachDelve(int, *flags) (*snapshot.Snapshot, error) { return nil, usageError{msg: noDelve} }

func openDelveCore(string, string, *flags) (*snapshot.Snapshot, error) {
	return nil, usageError{msg: noDelve}
}

func runDlvGuard(_ []string, _ io.Reader, stderr io.Writer) int {
	return exitStatus(usageError{msg: noDelve}, stderr)
}
