package cli

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// pidTurns lets DAP sessions attach to one process one at a time: a process has one
// tracer, so a second attach would fail while the first holds it. A session waits its
// turn, for at most within.
type pidTurns struct {
	within time.Duration
	mu     sync.Mutex
	turns  map[int]*turn
}

// A turn is one pid's token (a full channel: someone attaches) and how many sessions
// hold or wait for it.
type turn struct {
	token chan struct{}
	users int
}

// wait returns when it is this caller's turn to attach to pid; release ends the turn.
// It fails when the wait is longer than p.within or ctx ends (the client left).
func (p *pidTurns) wait(ctx context.Context, pid int) (release func(), err error) {
	if pid <= 0 {
		return func() {}, nil // a dlv server's process: dlv serializes
	}
	p.mu.Lock()
	if p.turns == nil {
		p.turns = map[int]*turn{}
	}
	t := p.turns[pid]
	if t == nil {
		t = &turn{token: make(chan struct{}, 1)}
		p.turns[pid] = t
	}
	t.users++
	p.mu.Unlock()
	done := func() {
		p.mu.Lock()
		if t.users--; t.users == 0 {
			delete(p.turns, pid)
		}
		p.mu.Unlock()
	}
	timer := time.NewTimer(p.within)
	defer timer.Stop()
	select {
	case t.token <- struct{}{}:
		return func() { <-t.token; done() }, nil
	case <-timer.C:
		done()
		return nil, fmt.Errorf("pid %d: other sessions have been attaching to it for over %v (--attach-wait): try again, or start gorigin dap with a longer --attach-wait", pid, p.within)
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}
