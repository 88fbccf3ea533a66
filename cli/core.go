package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/dbg/core"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// runCore is "gorigin core CORE [--exe BINARY]": the attach command's output, from a core dump.
func runCore(args []string, stdout, stderr io.Writer) error {
	f := newFlags(stderr)
	var exe string
	f.fs.StringVar(&exe, "exe", "", "the program that dumped the core (default: the file the core names, checked by build ID)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"core takes one core file: gorigin core CORE [--exe BINARY]"}
	}
	if f.backend != "native" && f.backend != "delve" {
		return usageError{fmt.Sprintf("--backend %s: a core is read by gorigin itself (native, the default) or by Delve (delve)", f.backend)}
	}
	open := openCore
	if f.backend == "delve" {
		open = openDelveCore
	}
	snap, err := open(pos[0], exe, f)
	if err != nil {
		return err
	}
	phase := capture.Tracer("output")
	defer phase("rendered %s", f.format)
	return render(snap, f, stdout)
}

// openCore snapshots a core dump. A core has no clock: the runtime's nanotime at the
// moment of the dump is not recorded anywhere gorigin can trust, so Now is 0 and wait
// durations are left out rather than guessed.
func openCore(path, exe string, f *flags) (*snapshot.Snapshot, error) {
	c, err := core.Open(path, exe)
	if err != nil {
		if errors.Is(err, core.ErrNotCore) || errors.Is(err, core.ErrTruncated) ||
			errors.Is(err, core.ErrNoExecutable) || errors.Is(err, core.ErrMismatch) ||
			errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return nil, usageError{err.Error()}
		}
		return nil, err
	}
	defer c.Close()
	snap, err := capture.Take(c, capture.Options{
		Kind: "core", Backend: "native", Stacks: f.stacks,
		Now: func() int64 { return 0 },
	})
	if err != nil {
		return nil, fmt.Errorf("core %s: %w", path, err)
	}
	return snap, nil
}
