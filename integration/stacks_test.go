package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/integration/oracle"
	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestStacks checks --stacks against the runtime's own traceback of the same goroutines:
// for every goroutine that is parked (its stack cannot change while it stays parked) and
// is parked in both of the runtime's dumps around gorigin's, gorigin's frames — function,
// file and line, inlined calls expanded — are the runtime's, once the frames the runtime
// hides at its default level (the runtime's own internals) are taken out.
func TestStacks(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	for _, v := range stackVariants(t) {
		t.Run(v.String(), func(t *testing.T) {
			f := startFixture(t, fixtureBinary(t, v), "-n", "3")
			before := f.debug2(t)
			snap, _ := attachJSON(t, f.Pid, nil, "--stacks")
			testenv.CheckRunsFreely(t, f.Pid, 100*time.Millisecond)
			after := f.debug2(t)

			parked := map[int64]oracle.Goroutine{}
			same := map[int64]string{}
			for _, g := range before {
				same[g.ID] = framesText(g.Frames)
			}
			for _, g := range after {
				if same[g.ID] == framesText(g.Frames) && g.Status != "running" && g.Status != "runnable" && !g.Truncated && len(g.Frames) > 0 {
					parked[g.ID] = g
				}
			}
			compared := 0
			for _, g := range snap.Goroutines {
				want, ok := parked[g.ID]
				if !ok || g.Changed || g.Status == "running" || g.Status == "runnable" {
					continue
				}
				compared++
				got := shownFrames(g.Frames)
				if len(got) == 0 {
					t.Errorf("goroutine %d [%s]: no frames; the runtime shows\n%s", g.ID, want.Status, framesText(want.Frames))
					continue
				}
				if a, b := locationsText(got), framesText(want.Frames); a != b {
					t.Errorf("goroutine %d [%s]: gorigin's stack\n%s\nthe runtime's\n%s", g.ID, want.Status, a, b)
				}
			}
			if compared < 40 {
				t.Fatalf("only %d parked goroutines compared: the test checks too little", compared)
			}
			t.Logf("%d stacks equal the runtime's", compared)
		})
	}
}

// stackVariants: the local toolchain and the oldest and newest, each once.
func stackVariants(t *testing.T) []variant {
	var out []variant
	seen := map[string]bool{}
	for _, v := range matrixVariants(t) {
		if !seen[v.Toolchain] {
			seen[v.Toolchain] = true
			out = append(out, v)
		}
	}
	return out
}

// shownFrames drops the frames a traceback at the default GOTRACEBACK level does not
// show and gorigin keeps: the runtime's unexported functions (runtime.showfuncinfo).
// (Compiler-made wrappers, which the runtime hides too, gorigin hides itself.)
func shownFrames(fs []snapshot.Location) []snapshot.Location {
	var out []snapshot.Location
	for _, f := range fs {
		name, inRuntime := strings.CutPrefix(f.Func, "runtime.")
		hidden := inRuntime && (name == "" || name[0] < 'A' || name[0] > 'Z')
		if !hidden {
			out = append(out, f)
		}
	}
	return out
}

func locationsText(fs []snapshot.Location) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s %s:%d\n", oracle.PrintName(f.Func), f.File, f.Line)
	}
	return b.String()
}

func framesText(fs []oracle.Frame) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s %s:%d\n", oracle.PrintName(f.Func), f.File, f.Line)
	}
	return b.String()
}
