package agent

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorigin-dev/gorigin/dump"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// maxStackBuf caps the runtime.Stack buffer: 1 GiB holds millions of goroutines; a
// process with more gets a truncated (Partial) snapshot rather than an unbounded allocation.
const maxStackBuf = 1 << 30

// bufHint remembers the size the last traceback needed, so the next one starts there.
var bufHint = struct {
	sync.Mutex
	n int
}{n: 64 << 10}

var (
	// snapshotMu makes Snapshot one at a time in the process: two stop-the-world
	// tracebacks at once only cost twice the memory.
	snapshotMu sync.Mutex
	// snapshotsTaken counts Snapshot calls, for tests.
	snapshotsTaken atomic.Int64
)

// Stacks returns runtime.Stack(buf, true) for every goroutine, growing the buffer until
// the traceback fits, and how long the runtime held the world stopped for the last call.
// truncated is true when the traceback did not fit in maxStackBuf.
func Stacks() (text []byte, stopped time.Duration, truncated bool) {
	bufHint.Lock()
	size := bufHint.n
	bufHint.Unlock()
	for {
		buf := make([]byte, size)
		t0 := time.Now()
		n := runtime.Stack(buf, true)
		stopped = time.Since(t0)
		if n < len(buf) {
			bufHint.Lock()
			bufHint.n = max(bufHint.n, n+n/4)
			bufHint.Unlock()
			return buf[:n], stopped, false
		}
		if size >= maxStackBuf {
			return buf[:n], stopped, true
		}
		size = min(size*2, maxStackBuf)
	}
}

// Snapshot takes a snapshot of the calling process: every goroutine's traceback from
// runtime.Stack (the runtime stops the world while it writes them), parsed by package
// dump, with the process's own pid, executable and Go version, and labels (from the
// goroutine profile when the traceback has none: see mergeLabels). Source.Kind is "dump",
// Backend "agent"; FreezeMicros is how long runtime.Stack held the world stopped.
//
// Snapshots of the process are taken one at a time: a call waits for one in progress.
func Snapshot() (*snapshot.Snapshot, error) {
	snapshotMu.Lock()
	defer snapshotMu.Unlock()
	snapshotsTaken.Add(1)
	taken := time.Now().UTC()
	text, stopped, truncated := Stacks()
	s, err := dump.Parse(bytes.NewReader(text), dump.Options{TakenAt: taken})
	if err != nil {
		return nil, fmt.Errorf("agent: parse this process's own traceback: %w", err)
	}
	mergeLabels(s)
	s.Source.Backend = "agent"
	s.Source.Pid = os.Getpid()
	if exe, err := os.Executable(); err == nil {
		s.Source.Exe = exe
	}
	s.Source.GoVersion = runtime.Version()
	s.Source.FreezeMicros = stopped.Microseconds()
	if truncated {
		s.Source.Partial = true
		s.Warnings = append([]string{fmt.Sprintf("the traceback of every goroutine exceeds %d bytes; the goroutines past that are missing", maxStackBuf)}, s.Warnings...)
	}
	return s, nil
}
