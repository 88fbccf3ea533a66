package integration

// Stripped against unstripped, field by field: the same fixture source built by the same
// toolchain with and without -ldflags='-s -w', both running, both snapshotted. Goroutine
// ids are the runtime's and the two processes number theirs alike only by chance, so the
// comparison is of multisets per go statement: for each goroutine every field of the
// snapshot model except its id, with the parent given by the parent's go statement.

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestStrippedMatchesUnstripped runs the fixture built with and without -ldflags='-s -w'
// side by side and requires gorigin attach --stacks to describe their go-statement
// goroutines identically: the same number per go statement and, as multisets, the same
// status, wait reason, origin (function, file, line, PC), start location, parent's go
// statement, labels, stack size, system and locked-thread flags, and frames (function,
// file, line, PC, inlined). Only the busy loops' and the HTTP server's states, which move
// on their own, are compared without status, frames and stack size.
func TestStrippedMatchesUnstripped(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	vs := []variant{{Toolchain: "go1.20.14"}, hostVariant(t), {Toolchain: "go1.27.3"}}
	if testing.Short() {
		vs = vs[1:2]
	}
	for _, v := range vs {
		t.Run(v.String(), func(t *testing.T) {
			full, stripped := fixtureBinary(t, v), strippedFixture(t, v)
			checkStripped(t, stripped)
			e := expect(t, v, extraGoroutines)
			ff := startFixture(t, full, "-n", strconv.Itoa(extraGoroutines))
			sf := startFixture(t, stripped, "-n", strconv.Itoa(extraGoroutines))
			fs, _ := attachJSON(t, ff.Pid, nil, "--stacks")
			ss, _ := attachJSON(t, sf.Pid, nil, "--stacks")
			testenv.CheckRunsFreely(t, ff.Pid, 100*time.Millisecond)
			testenv.CheckRunsFreely(t, sf.Pid, 100*time.Millisecond)
			if fs.Source.GoVersion != ss.Source.GoVersion {
				t.Errorf("go version: unstripped %s, stripped %s", fs.Source.GoVersion, ss.Source.GoVersion)
			}
			want, got := goroutineRecords(e, fs), goroutineRecords(e, ss)
			n, frames := 0, 0
			for o, recs := range want {
				n += len(recs)
				for _, r := range recs {
					if strings.Contains(r, "frames [") && !strings.Contains(r, "frames []") {
						frames++
					}
				}
				if !slices.Equal(recs, got[o]) {
					t.Errorf("go statement %s: unstripped\n  %s\nstripped\n  %s", o, strings.Join(recs, "\n  "), strings.Join(got[o], "\n  "))
				}
			}
			for o, recs := range got {
				if _, ok := want[o]; !ok {
					t.Errorf("go statement %s: only in the stripped build's snapshot:\n  %s", o, strings.Join(recs, "\n  "))
				}
			}
			if len(want) < 10 || n < 50 || frames < n/2 {
				t.Fatalf("only %d go statements, %d goroutines, %d with frames compared: the comparison would mean little", len(want), n, frames)
			}
			t.Logf("%d goroutines of %d go statements, %d with stacks: equal field by field", n, len(want), frames)
		})
	}
}

// goroutineRecords describes the fixture's goroutines of a snapshot (those created by a
// go statement in the fixture, or running its code) as one line each, without ids,
// sorted, per go statement.
func goroutineRecords(e *expectation, s *snapshot.Snapshot) map[string][]string {
	byID := map[int64]snapshot.Goroutine{}
	for _, g := range s.Goroutines {
		byID[g.ID] = g
	}
	loc := func(l *snapshot.Location) string {
		if l == nil {
			return "-"
		}
		return fmt.Sprintf("%s %s:%d %s inlined=%v", l.Func, l.File, l.Line, l.PC, l.Inlined)
	}
	out := map[string][]string{}
	for _, g := range s.Goroutines {
		inFixture := g.Origin != nil && e.files[g.Origin.File]
		startsInMain := g.Start != nil && strings.HasPrefix(g.Start.Func, "main.")
		if !inFixture && !startsInMain {
			continue
		}
		key := loc(g.Origin)
		parent := "-"
		if p, ok := byID[g.ParentID]; ok {
			parent = loc(p.Origin)
		} else if g.ParentID != 0 {
			parent = "exited"
		}
		labels := make([]string, 0, len(g.Labels))
		for k, v := range g.Labels {
			labels = append(labels, k+"="+v)
		}
		sort.Strings(labels)
		rec := fmt.Sprintf("start %s | parent's origin %s | labels %v | system %v locked %v", loc(g.Start), parent, labels, g.System, g.LockedToThread)
		if g.Origin == nil || !restless(e.name(origin{g.Origin.File, g.Origin.Line})) {
			frames := make([]string, len(g.Frames))
			for i := range g.Frames {
				frames[i] = loc(&g.Frames[i])
			}
			rec = fmt.Sprintf("%s %q stack %d | %s | frames %v", g.Status, g.WaitReason, g.StackBytes, rec, frames)
		}
		out[key] = append(out[key], rec)
	}
	for _, recs := range out {
		sort.Strings(recs)
	}
	return out
}
