package integration

// Precise scanning: testdata/leakmany starts 5,000 goroutines, each blocked on its own
// channel nothing else holds (its one go statement is marked LEAK 5000). Scanned
// conservatively, dead stack slots kept some channels "live": the last one made, in a
// dead slot of main's frame (main is in a system call, reading stdin), and channels in
// dead slots of the GC workers' parked stacks and in uintptr globals (runtime.gcrash's
// stack bounds). The compiler's stack maps (parked goroutines and those in a system
// call) and the linker's pointer maps of .data and .bss leave those out.
//
// Not yet all 5,000: idle threads' system stacks (g0) are unwound with the runtime's maps
// too, but a few words on them still point at channels (their innermost frames, stopped
// anywhere, are scanned whole). The test requires that every goroutine of the statement
// not called leaked is kept live only by such a word, and that nothing else is leaked.

import (
	"bytes"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

func TestLeaksPreciseStacksManyUnreachableChannels(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	dir, err := filepath.Abs(filepath.Join("testdata", "leakmany"))
	if err != nil {
		t.Fatal(err)
	}
	markers := leakMarkers(t, dir)
	main := filepath.Join(dir, "main.go")
	want := 0
	for _, m := range markers {
		if m.leak {
			want += m.count
		}
	}
	if want != 5000 {
		t.Fatalf("leakmany marks %d goroutines LEAK, want 5000", want)
	}
	bin := programBinary(t, dir, hostVariant(t))
	f := startFixture(t, bin)
	waitLeaksBlocked(t, f.Pid, markers, main)

	r := runGorigin(t, []string{"GORIGIN_LEAKS_EXPLAIN=1"}, "leaks", strconv.Itoa(f.Pid), "--format", "json")
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	snap, err := snapshot.Decode(bytes.NewReader(r.Stdout))
	if err != nil {
		t.Fatal(err)
	}
	testenv.CheckRunsFreely(t, f.Pid, time.Second)
	leaked := 0
	for _, g := range snap.Goroutines {
		mine := g.Origin != nil && g.Origin.File == main && markers[g.Origin.Line].leak
		switch {
		case g.Leak == "leaked" && !mine:
			t.Errorf("FALSE POSITIVE: goroutine %d (%s) is called leaked", g.ID, describe(g))
		case g.Leak == "leaked":
			leaked++
		}
	}
	if snap.Leaks == nil {
		t.Fatal("no leaks report in the JSON")
	}
	for _, grp := range snap.Leaks.Groups {
		if grp.Origin == nil || grp.Origin.File != main || grp.Verdict == "leaked" {
			continue
		}
		for _, why := range grp.Why {
			// The path of pointers ends at its root: only a word of a thread's own stack
			// may remain.
			root := why[strings.LastIndex(why, "←")+len("←"):]
			if !strings.Contains(root, "a thread's stack?") {
				t.Errorf("%d goroutines of the LEAK statement are %s: %s", len(grp.Goroutines), grp.Verdict, why)
			}
		}
	}
	t.Logf("%d of %d goroutines blocked on unreachable channels called leaked", leaked, want)
	if leaked < want/2 {
		t.Errorf("only %d of %d leaks found", leaked, want)
	}
}
