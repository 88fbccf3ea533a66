package cli

// The GORIGIN_* environment variables. cli is the only package that reads them: it passes
// them down to the libraries as options.
//
//	GORIGIN_TRACE                  print how long each phase took (capture.SetTrace)
//	GORIGIN_GDB_TIMEOUT            bound on one GDB/MI command (gdbmi options' Timeout)
//	GORIGIN_TEST_HOLD_FREEZE       for tests: hold every freeze this long (capture.Options.HoldFreeze)
//	GORIGIN_TEST_HOLD_BREAKPOINTS  for tests: hold Delve's attach breakpoints (delve.Options.HoldBreakpoints)

import (
	"io"
	"os"
	"time"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/internal/source"
)

// envDuration is the Go duration in the environment variable name; 0 when it is unset,
// not a duration, or not positive.
func envDuration(name string) time.Duration {
	d, err := time.ParseDuration(os.Getenv(name))
	if err != nil || d < 0 {
		return 0
	}
	return d
}

// setTrace turns tracing on, to stderr, when $GORIGIN_TRACE is set.
func setTrace(stderr io.Writer) {
	if os.Getenv("GORIGIN_TRACE") != "" {
		capture.SetTrace(stderr)
	}
}

// holdFreeze is capture.Options.HoldFreeze: $GORIGIN_TEST_HOLD_FREEZE.
func holdFreeze() time.Duration { return envDuration("GORIGIN_TEST_HOLD_FREEZE") }

// gdbTimeout is the gdbmi options' Timeout: $GORIGIN_GDB_TIMEOUT (0: the default).
func gdbTimeout() time.Duration { return envDuration("GORIGIN_GDB_TIMEOUT") }

// sourceOptions are the options of every source gorigin opens that come from the
// environment and from gorigin itself (the dlv guard), not from flags.
func sourceOptions() source.Options {
	return source.Options{
		GDBTimeout: gdbTimeout(), DlvGuard: []string{"/proc/self/exe", dlvGuardCmd},
		HoldFreeze: holdFreeze(), HoldBreakpoints: envDuration("GORIGIN_TEST_HOLD_BREAKPOINTS"),
	}
}
