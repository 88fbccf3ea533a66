// Package dump reads goroutine dumps that were written without a debugger into gorigin's
// snapshot model: the runtime's tracebacks (/debug/pprof/goroutine?debug=2, a panic, a
// SIGQUIT or GOTRACEBACK=all|system|crash crash, runtime.Stack output, also inside a
// log file), the aggregated debug=1 profile text, the gzipped debug=0 protobuf profile,
// and gorigin's own JSON snapshots. Parse detects which from the content.
//
// It is not a debugger source: a dump cannot tell stack sizes, exact wait times (only
// whole minutes, a lower bound) or creation PCs, and a debug=1 or debug=0 profile has no
// goroutine ids, states or creation sites at all; those fields stay empty. Text is read
// streaming (Reader), one goroutine at a time, so a dump of any size parses in bounded
// memory beyond the goroutines kept.
package dump

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// ErrNoDump is returned when the input holds no goroutine dump gorigin can read.
var ErrNoDump = errors.New("no goroutine dump found: want the text of /debug/pprof/goroutine?debug=2 (or debug=1, debug=0), " +
	"a panic or SIGQUIT traceback, runtime.Stack output, or a gorigin --format json snapshot")

// Options describe where a dump came from.
type Options struct {
	// File is the path the dump was read from, recorded in the snapshot ("" for a pipe).
	File string
	// TakenAt is when the dump was written, if known (a file's modification time, the
	// time of an HTTP fetch); a debug=0 profile's own time wins.
	TakenAt time.Time
}

// Parse reads one dump of any supported kind and returns its snapshot (Source.Kind
// "dump", Backend "text"; a gorigin JSON snapshot is returned as it was saved).
func Parse(r io.Reader, opt Options) (*snapshot.Snapshot, error) {
	br := bufio.NewReaderSize(r, maxLine)
	head, _ := br.Peek(512)
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return parseProfile(br, opt)
	case bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte("{")):
		s, err := snapshot.Decode(br)
		if err != nil {
			return nil, err
		}
		if s.Source.File == "" {
			s.Source.File = opt.File
		}
		return s, nil
	}
	return parseText(br, opt)
}

func newSnapshot(opt Options) *snapshot.Snapshot {
	return &snapshot.Snapshot{
		Schema: snapshot.Schema,
		Source: snapshot.Source{Kind: "dump", Backend: "text", File: opt.File, TakenAt: opt.TakenAt},
	}
}

// chunk is how many goroutines parseText collects before starting another slice: the
// snapshot's slice is allocated once, at its final size, instead of growing by copies.
const chunk = 4096

func parseText(r io.Reader, opt Options) (*snapshot.Snapshot, error) {
	return parseTextBudget(r, opt, maxKept)
}

// parseTextBudget is parseText keeping at most budget bytes (maxKept, less in tests).
func parseTextBudget(r io.Reader, opt Options, budget int64) (*snapshot.Snapshot, error) {
	s := newSnapshot(opt)
	rd := NewReader(r)
	var chunks [][]snapshot.Goroutine
	n := 0
	get := func(i int) *snapshot.Goroutine { return &chunks[i/chunk][i%chunk] }
	var ids idSet
	dups := 0
	for {
		g, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if rd.in.kept+int64(n+1+chunk)*snapshot.GoroutineSize > budget {
			return nil, overBudget("the dump", n, budget)
		}
		if g.ID != 0 && ids.add(g.ID, n) {
			// A crash shows a goroutine running on another thread twice: keep the copy
			// with the stack.
			dups++
			i := ids.index(g.ID, n, get)
			if old := get(i); len(old.Frames) == 0 && len(g.Frames) > 0 {
				*old = g
			}
			continue
		}
		if n%chunk == 0 {
			chunks = append(chunks, make([]snapshot.Goroutine, 0, chunk))
		}
		chunks[len(chunks)-1] = append(chunks[len(chunks)-1], g)
		n++
	}
	s.Goroutines = make([]snapshot.Goroutine, 0, n)
	for i, c := range chunks {
		s.Goroutines = append(s.Goroutines, c...)
		chunks[i] = nil // the goroutines are held once, and one chunk twice
	}
	if len(s.Goroutines) == 0 && rd.Format() == "" {
		return nil, ErrNoDump
	}
	joinUnstarted(s.Goroutines)
	s.Warnings = rd.Warnings()
	s.Crash = rd.Crash()
	if dups > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%d goroutines appear twice in the dump (a crash traceback); the copy with a stack was kept", dups))
	}
	// The Reader keeps the model's invariants (known statuses, no negative waits) and
	// idSet the unique ids; FuzzParse checks them with Validate, which would cost a
	// second set of every id here.
	return s, nil
}
