//go:build !windows

package agent

import (
	"os"
	"syscall"
)

// defaultSignal is Options.Signal when none is given.
var defaultSignal os.Signal = syscall.SIGUSR1

// refusedSignals end or stop a process: the agent does not take them over.
var refusedSignals = []os.Signal{syscall.SIGQUIT, syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL, syscall.SIGSTOP}
