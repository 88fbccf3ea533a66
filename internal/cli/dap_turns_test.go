package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestPidTurns: attaches to one pid take turns; a wait longer than --attach-wait fails
// with a message naming the flag; other pids and a cancelled client do not wait.
func TestPidTurns(t *testing.T) {
	ctx := context.Background()
	p := &pidTurns{within: 50 * time.Millisecond}
	release, err := p.wait(ctx, 42)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.wait(ctx, 42); err == nil || !strings.Contains(err.Error(), "--attach-wait") {
		t.Errorf("a second attach to pid 42 while the first holds it: %v, want the --attach-wait error", err)
	}
	other, err := p.wait(ctx, 43)
	if err != nil {
		t.Errorf("pid 43 waits for pid 42: %v", err)
	} else {
		other()
	}
	p.within = time.Hour // from here on only an end of the turn or of the client ends a wait
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.wait(cancelled, 42); !errors.Is(err, context.Canceled) {
		t.Errorf("a client that left: %v, want context.Canceled", err)
	}
	got := make(chan error, 1)
	go func() {
		r, err := p.wait(ctx, 42)
		if err == nil {
			r()
		}
		got <- err
	}()
	release()
	if err := <-got; err != nil {
		t.Errorf("the attach waiting for pid 42 after the first ended: %v", err)
	}
	if len(p.turns) != 0 {
		t.Errorf("%d pids still have turns after every attach ended", len(p.turns))
	}
}
