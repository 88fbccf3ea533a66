package dumpbench

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used, user and system, all threads (the
// parser's goroutine and the garbage collector's workers). On a shared, loaded machine
// it measures a parser's cost far more steadily than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
