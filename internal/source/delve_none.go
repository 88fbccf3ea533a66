//go:build nodelve

package source

// A gorigin built with -tags nodelve has no Delve backends: it is smaller and builds
// faster (see the README), and --backend delve and --dlv say so.

import (
	"context"

	"github.com/gorigin-dev/gorigin/snapshot"
)

const noDelve = "this gorigin was built with -tags nodelve, without Delve: use --backend native (or gdb), or a gorigin built without that tag"

func attachDelve(context.Context, int, Options) (*snapshot.Snapshot, error) {
	return nil, badInput(nil, noDelve)
}

func delveCore(context.Context, string, string, Options) (*snapshot.Snapshot, error) {
	return nil, badInput(nil, noDelve)
}
