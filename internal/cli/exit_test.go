package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"testing"

	"github.com/gorigin-dev/gorigin/dap"
	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/dbg/core"
	"github.com/gorigin-dev/gorigin/dbg/gdbmi"
	"github.com/gorigin-dev/gorigin/gstruct"
	"github.com/gorigin-dev/gorigin/leaks"
	"github.com/gorigin-dev/gorigin/report"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestExitStatusOfBadInput: every error the packages call bad input is exit status 2
// however it is wrapped (the list is the one cli mapped by hand before they said so
// themselves), and an error that is not is 1.
func TestExitStatusOfBadInput(t *testing.T) {
	for _, err := range []error{
		dbg.ErrNoProcess, dbg.ErrPermission, dbg.ErrNotGo, dbg.ErrExited,
		gstruct.ErrStripped, gstruct.ErrDebugFile, gstruct.ErrCorrupt,
		report.ErrBinaryToTerminal, snapshot.ErrTooLarge,
		core.ErrNotCore, core.ErrTruncated, core.ErrNoExecutable, core.ErrMismatch,
		gdbmi.ErrCoreRefused, leaks.ErrNoDWARF, leaks.ErrNoRoom, dap.ErrMalformed,
		usageError{msg: "bad flag"},
	} {
		if st := exitStatus(fmt.Errorf("pid 42: %w", err), io.Discard); st != exitUsage {
			t.Errorf("%v: exit status %d, want %d", err, st, exitUsage)
		}
	}
	if st := exitStatus(fmt.Errorf("pid 42: %w", fs.ErrClosed), io.Discard); st != exitInternal {
		t.Errorf("an I/O error: exit status %d, want %d", st, exitInternal)
	}
}

// TestUsageErrorWrapsItsCause: a usage error made from another error keeps it.
func TestUsageErrorWrapsItsCause(t *testing.T) {
	err := dispatch([]string{"attach", "1", "-o", "/nonexistent/report.txt"}, stdio3{nil, io.Discard, io.Discard})
	var ue usageError
	if !errors.As(err, &ue) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("-o in a missing directory: %v (%T), want a usage error wrapping fs.ErrNotExist", err, err)
	}
	err = dispatch([]string{"core", "/nonexistent/core"}, stdio3{nil, io.Discard, io.Discard})
	if !dbg.BadInput(err) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("core of a missing file: %v (%T), want bad input wrapping fs.ErrNotExist", err, err)
	}
}
