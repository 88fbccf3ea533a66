package agent

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"

	"github.com/gorigin-dev/gorigin/dump"
	"github.com/gorigin-dev/gorigin/internal/goversion"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// Labels. runtime.Stack prints a goroutine's pprof labels in its header only when the
// runtime's GODEBUG tracebacklabels is on: off by default in Go 1.26, on from Go 1.27.
// When it is off, mergeLabels takes them from the goroutine profile
// (pprof.Lookup("goroutine") at debug=1), which has labels but no goroutine ids: it
// counts goroutines per stack and label set. A stack's labels are given to the
// snapshot's goroutines with that stack only when that is unambiguous: every profile
// record with the stack has the same labels, and the profile counts as many goroutines
// with the stack as the snapshot has (the two are taken one after the other; a goroutine
// that came or went in between makes the stack ambiguous). Goroutines that share their
// stack with goroutines of other labels (or of none) get no labels, and the snapshot
// says how many were left so: with GODEBUG=tracebacklabels=1 (Go 1.26) every goroutine
// gets its own.

// tracebackShowsLabels says whether runtime.Stack prints labels in this process: the
// last tracebacklabels setting in GODEBUG, else the runtime's default (on from Go 1.27).
// A //go:debug or go.mod godebug line is not seen; a snapshot that has labels anyway
// is taken as it is.
func tracebackShowsLabels() bool {
	release := goversion.Parse(runtime.Version())
	on := !release.Known() || release >= 27 // a development build counts as the newest
	for _, kv := range strings.Split(os.Getenv("GODEBUG"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(kv), "tracebacklabels="); ok {
			on = v == "1"
		}
	}
	return on
}

// mergeLabels adds labels from the goroutine profile to s when its traceback had none.
func mergeLabels(s *snapshot.Snapshot) {
	for i := range s.Goroutines {
		if len(s.Goroutines[i].Labels) > 0 {
			return // the traceback printed them
		}
	}
	if tracebackShowsLabels() {
		return // no goroutine has labels
	}
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		s.Warnings = append(s.Warnings, fmt.Sprintf("labels not read: the goroutine profile: %v", err))
		return
	}
	prof, err := dump.Parse(&buf, dump.Options{})
	if err != nil {
		s.Warnings = append(s.Warnings, fmt.Sprintf("labels not read: the goroutine profile: %v", err))
		return
	}
	if left := assignLabels(s.Goroutines, prof.Goroutines); left > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%d goroutines have labels that could not be told apart from "+
			"goroutines with the same stack and other labels; they have none here (set GODEBUG=tracebacklabels=1 "+
			"to have the runtime print every goroutine's labels)", left))
	}
}

// stackKey is a goroutine's stack as both a traceback and a debug=1 profile show it:
// the frames outside the runtime (a traceback hides most runtime frames, the profile
// shows them), function and line.
func stackKey(frames []snapshot.Location) string {
	var b strings.Builder
	for _, f := range frames {
		if strings.HasPrefix(f.Func, "runtime.") || strings.HasPrefix(f.Func, "internal/runtime/") ||
			strings.HasPrefix(f.Func, "runtime/internal/") {
			continue
		}
		fmt.Fprintf(&b, "%s %s:%d\n", f.Func, f.File, f.Line)
	}
	return b.String()
}

// assignLabels gives the goroutines of gs the labels of the profile's goroutines (one
// entry per goroutine, as dump expands a debug=1 record) where a stack maps to one label
// set unambiguously, and returns how many labelled goroutines of the profile could not
// be matched.
func assignLabels(gs, profile []snapshot.Goroutine) int {
	type byStack struct {
		labels    map[string]string
		count     int
		labelled  int
		ambiguous bool
	}
	stacks := map[string]*byStack{}
	for i := range profile {
		p := &profile[i]
		k := stackKey(p.Frames)
		st := stacks[k]
		if st == nil {
			st = &byStack{labels: p.Labels}
			stacks[k] = st
		} else if !maps.Equal(st.labels, p.Labels) {
			st.ambiguous = true
		}
		st.count++
		if len(p.Labels) > 0 {
			st.labelled++
		}
	}
	seen := map[string]int{}
	for i := range gs {
		seen[stackKey(gs[i].Frames)]++
	}
	left := 0
	for k, st := range stacks {
		if st.labelled == 0 {
			continue
		}
		if st.ambiguous || seen[k] != st.count {
			left += st.labelled
			st.labels = nil
		}
	}
	for i := range gs {
		if st := stacks[stackKey(gs[i].Frames)]; st != nil && len(st.labels) > 0 && !st.ambiguous {
			gs[i].Labels = st.labels
		}
	}
	return left
}
