package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/gorigin-dev/gorigin/report"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// historyFlag defines --no-history: attach remembers each look at a process in the user's
// cache directory, to say at the next look which goroutines were blocked then already.
func (f *flags) historyFlag() {
	f.fs.BoolVar(&f.noHistory, "no-history", f.noHistory, "neither read nor write gorigin's memory of its previous look at this process (the SEEN column; kept under the user's cache directory, gorigin/history)")
	f.group(sourceFlags, "no-history")
}

// looking is a look at a live process that history will remember: identify it before the
// look (a pid reused during the look is then told apart), then call remember with the
// snapshot. It is nil, and remember a no-op, with --no-history, for a process read through
// a dlv server (maybe on another host) and when the process cannot be identified.
type looking struct {
	proc snapshot.Process
	dir  string
}

func startLook(pid int, f *flags) *looking {
	if f.noHistory || dlvAddr(f) != "" || pid <= 0 {
		return nil
	}
	p, err := snapshot.IdentifyProcess(pid)
	if err != nil {
		return nil // attach itself says what is wrong with the pid
	}
	dir, err := snapshot.HistoryDir()
	if err != nil {
		return nil
	}
	return &looking{proc: p, dir: dir}
}

// remember marks snap with what the previous look at the process saw and writes this
// look for the next one. A history that cannot be read or written is a warning on stderr,
// never a failure: the look itself succeeded. A partial snapshot is not written (the
// goroutines it missed would lose their history).
func (l *looking) remember(snap *snapshot.Snapshot, stderr io.Writer) {
	if l == nil || snap.Source.Kind != snapshot.KindLive {
		return
	}
	prev, err := snapshot.ReadHistory(l.dir, l.proc)
	if err != nil && !errors.Is(err, snapshot.ErrNoHistory) {
		fmt.Fprintf(stderr, "gorigin: warning: %s: ignored (this look replaces it; --no-history stops using it)\n", report.Printable(err.Error()))
	}
	if err != nil {
		prev = nil
	}
	next := prev.Next(l.proc, snap)
	if snap.Source.Partial {
		return
	}
	if err := snapshot.WriteHistory(l.dir, next); err != nil {
		fmt.Fprintf(stderr, "gorigin: warning: %s (the SEEN column needs it; --no-history skips it)\n", report.Printable(err.Error()))
	}
}
