package agent

import (
	"os"
	"syscall"
)

// defaultSignal is Options.Signal when none is given: Windows has no SIGUSR1, so an agent
// writes snapshot files only on its schedule unless a signal is given.
var defaultSignal os.Signal

// refusedSignals end a process: the agent does not take them over.
var refusedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL}
