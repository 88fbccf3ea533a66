package native

import (
	"fmt"
	"sync"

	"github.com/gorigin-dev/gorigin/dbg/onsignal"
)

// attached is the set of pids this program holds, so that one process is not attached
// twice (ptrace allows one tracer: the second freeze would fail in confusing ways).
var attached struct {
	mu   sync.Mutex
	pids map[int]bool
}

// register records p and has a terminating signal thaw and detach it (package onsignal,
// once the program installed it).
func register(p *Process) error {
	attached.mu.Lock()
	defer attached.mu.Unlock()
	if attached.pids[p.pid] {
		return fmt.Errorf("attach %d: already attached by this program: close the other attachment first", p.pid)
	}
	if attached.pids == nil {
		attached.pids = map[int]bool{}
	}
	attached.pids[p.pid] = true
	onsignal.Register(p)
	return nil
}

// unregister forgets p; with the last process the signals get their usual handling back.
func unregister(p *Process) {
	attached.mu.Lock()
	defer attached.mu.Unlock()
	delete(attached.pids, p.pid)
	onsignal.Unregister(p)
}
