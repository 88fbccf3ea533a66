package cli

// The Delve backends' flags. The backends themselves are in internal/source (delve.go; a
// build with -tags nodelve leaves Delve out).

import (
	"fmt"
	"strings"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/internal/source"
)

// dlvGuardCmd is the hidden command that runs the guard of a dlv session gorigin halts
// (see delve.SessionOptions.Guard).
const dlvGuardCmd = "__dlv-guard"

// checkBackend validates --backend and --dlv: native, gdb, delve, or dlv=HOST:PORT
// (--dlv HOST:PORT is the same).
func checkBackend(f *flags) error {
	if f.dlv != "" {
		if f.backend != "native" && f.backend != "dlv="+f.dlv {
			return usageError{msg: fmt.Sprintf("--dlv %s and --backend %s: pick one", f.dlv, f.backend)}
		}
		f.backend = "dlv=" + f.dlv
	}
	switch {
	case f.backend == "native", f.backend == "gdb", f.backend == "delve":
	case strings.HasPrefix(f.backend, "dlv="):
		if !strings.Contains(strings.TrimPrefix(f.backend, "dlv="), ":") {
			return usageError{msg: fmt.Sprintf("--backend %s: give the headless dlv's address, dlv=HOST:PORT", f.backend)}
		}
	default:
		return usageError{msg: fmt.Sprintf("--backend %q: use native, gdb, delve or dlv=HOST:PORT", f.backend)}
	}
	if (f.backend == "delve" || dlvAddr(f) != "") && f.freeze == string(capture.FreezeNever) {
		return usageError{msg: "--freeze never reads the process without any debugger: use it with --backend native"}
	}
	return nil
}

// dlvAddr is the headless dlv's address for --backend dlv=HOST:PORT, or "".
func dlvAddr(f *flags) string { return source.DlvAddr(f.backend) }
