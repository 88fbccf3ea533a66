package snapshot

import (
	"reflect"
	"strings"
	"testing"
)

type wantGroup struct {
	key string
	ids []int64
}

func TestGroupByEveryKey(t *testing.T) {
	tests := []struct {
		name string
		key  Key
		want []wantGroup // in the order GroupBy must return them
	}{
		{"origin is the go statement plus the start function, so a spawn helper does not merge tasks", Key{Kind: "origin"}, []wantGroup{
			{"main.startGoRoutine /app/helper.go:5 → main.worker", []int64{10, 11, 12}},
			{"main.main /app/main.go:30 → main.handle", []int64{30, 31}},
			{"main.startGoRoutine /app/helper.go:5 → main.poller", []int64{20, 21}},
			{NoOrigin + " → runtime.main", []int64{1}},
			{"main.serve /app/main.go:50 → main.handle", []int64{40}},
			{"runtime.gcenable /go/src/runtime/mgc.go:204 → runtime.bgsweep", []int64{2}},
		}},
		{"the zero key groups by origin", Key{}, []wantGroup{
			{"main.startGoRoutine /app/helper.go:5 → main.worker", []int64{10, 11, 12}},
			{"main.main /app/main.go:30 → main.handle", []int64{30, 31}},
			{"main.startGoRoutine /app/helper.go:5 → main.poller", []int64{20, 21}},
			{NoOrigin + " → runtime.main", []int64{1}},
			{"main.serve /app/main.go:50 → main.handle", []int64{40}},
			{"runtime.gcenable /go/src/runtime/mgc.go:204 → runtime.bgsweep", []int64{2}},
		}},
		{"start merges one function started from two go statements", Key{Kind: "start"}, []wantGroup{
			{"main.handle", []int64{30, 31, 40}},
			{"main.worker", []int64{10, 11, 12}},
			{"main.poller", []int64{20, 21}},
			{"runtime.bgsweep", []int64{2}},
			{"runtime.main", []int64{1}},
		}},
		{"location is the top frame outside the runtime, or says the stack is missing", Key{Kind: "location"}, []wantGroup{
			{"main.handle /app/handle.go:3", []int64{30, 31}},
			{"main.poller /app/poll.go:8", []int64{20, 21}},
			{"main.worker /app/worker.go:12", []int64{10, 11}},
			{NoStack, []int64{40}},
			{"main.main /app/main.go:20", []int64{1}},
			{"main.worker /app/worker.go:15", []int64{12}},
			{"runtime.bgsweep /go/src/runtime/mgcsweep.go:317", []int64{2}},
		}},
		{"wait is the status and the wait reason", Key{Kind: "wait"}, []wantGroup{
			{"waiting: select", []int64{1, 20, 21}},
			{"waiting: chan receive", []int64{10, 11}},
			{"runnable", []int64{30}},
			{"running", []int64{12}},
			{"syscall", []int64{31}},
			{"waiting: GC sweep wait", []int64{2}},
			{"waiting: IO wait", []int64{40}},
		}},
		{"label separates an empty value from a missing label", Key{Kind: "label", Label: "tenant"}, []wantGroup{
			{"(no label tenant)", []int64{1, 2, 20, 21, 40}},
			{"tenant=a", []int64{10, 11, 30}},
			{"tenant=", []int64{31}},
			{"tenant=b", []int64{12}},
		}},
		{"parent is the creating goroutine's own origin", Key{Kind: "parent"}, []wantGroup{
			{"parent " + NoOrigin + " → runtime.main", []int64{2, 10, 11, 12, 20, 21, 30, 31}},
			{NoParent, []int64{1}},
			{"parent main.main /app/main.go:30 → main.handle", []int64{40}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gs := fixture()
			groups := GroupBy(gs, tt.key)
			var got []wantGroup
			total := 0
			for _, g := range groups {
				got = append(got, wantGroup{g.Key, ids(gs, g.Members)})
				if g.Count != len(g.Members) {
					t.Errorf("group %q: Count %d, %d members", g.Key, g.Count, len(g.Members))
				}
				total += g.Count
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("GroupBy(%v):\n got %v\nwant %v", tt.key, got, tt.want)
			}
			if total != len(gs) {
				t.Errorf("groups hold %d goroutines, want all %d", total, len(gs))
			}
		})
	}
}

func TestGroupKeyFields(t *testing.T) {
	gs := fixture()
	find := func(groups []Group, key string) Group {
		t.Helper()
		for _, g := range groups {
			if g.Key == key {
				return g
			}
		}
		t.Fatalf("no group %q", key)
		return Group{}
	}
	g := find(GroupBy(gs, Key{Kind: "label", Label: "tenant"}), "tenant=a")
	if g.LabelValue != "a" || g.Parents != nil {
		t.Errorf("label group: LabelValue %q Parents %v, want \"a\" none", g.LabelValue, g.Parents)
	}
	g = find(GroupBy(gs, Key{Kind: "parent"}), "parent main.main /app/main.go:30 → main.handle")
	if !reflect.DeepEqual(g.Parents, []int64{30}) || g.LabelValue != "" || g.ParentOrigin.String() != "main.main /app/main.go:30" || g.ParentStart.Func != "main.handle" {
		t.Errorf("parent group: Parents %v ParentOrigin %v ParentStart %v LabelValue %q, want [30], main.main /app/main.go:30, main.handle, \"\"", g.Parents, g.ParentOrigin, g.ParentStart, g.LabelValue)
	}
	g = find(GroupBy(gs, Key{Kind: "origin"}), "main.startGoRoutine /app/helper.go:5 → main.worker")
	if g.Origin.String() != "main.startGoRoutine /app/helper.go:5" || g.Start.Func != "main.worker" {
		t.Errorf("origin group: Origin %v Start %v", g.Origin, g.Start)
	}
	// The representative is the member with the smallest id (10, at index 3).
	if g.Rep != 3 || gs[g.Rep].ID != 10 {
		t.Errorf("Rep = %d (id %d), want index 3 (id 10)", g.Rep, gs[g.Rep].ID)
	}
	if g.Location.String() != "main.worker /app/worker.go:12" {
		t.Errorf("Location = %v, want the representative's top user frame", g.Location)
	}
	wantStates := []StateCount{{"waiting", "chan receive", 2}, {"running", "", 1}}
	if !reflect.DeepEqual(g.States, wantStates) {
		t.Errorf("States = %v, want %v", g.States, wantStates)
	}
	if g.MaxWaitSeconds != 120 || g.StackBytes != 3*8192 {
		t.Errorf("MaxWaitSeconds %v StackBytes %d, want 120 and %d", g.MaxWaitSeconds, g.StackBytes, 3*8192)
	}
	if !reflect.DeepEqual(g.Examples, []int64{10, 11, 12}) || !reflect.DeepEqual(g.Members, []int{2, 3, 4}) {
		t.Errorf("Examples %v Members %v, want [10 11 12] [2 3 4]", g.Examples, g.Members)
	}
}

func TestGroupExamplesAndRepresentative(t *testing.T) {
	tests := []struct {
		name     string
		ids      []int64
		examples []int64
		rep      int
	}{
		{"examples are the five smallest ids, ascending", []int64{50, 3, 9, 7, 100, 1, 8, 2}, []int64{1, 2, 3, 7, 8}, 5},
		{"fewer than five ids are all examples", []int64{9, 4}, []int64{4, 9}, 1},
		{"unknown ids give no examples and the first member represents", []int64{0, 0, 0}, nil, 0},
		{"unknown ids are skipped among known ones", []int64{0, 7, 0, 5}, []int64{5, 7}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gs []Goroutine
			for _, id := range tt.ids {
				gs = append(gs, Goroutine{ID: id, Status: "running", Start: &Location{Func: "main.f"}})
			}
			groups := GroupBy(gs, Key{Kind: "start"})
			if len(groups) != 1 {
				t.Fatalf("%d groups, want 1", len(groups))
			}
			if !reflect.DeepEqual(groups[0].Examples, tt.examples) || groups[0].Rep != tt.rep {
				t.Errorf("Examples %v Rep %d, want %v %d", groups[0].Examples, groups[0].Rep, tt.examples, tt.rep)
			}
		})
	}
}

func TestGroupByMissingFields(t *testing.T) {
	// A debug=1-like dump: no ids, no origins, no frames, no waits, no stack sizes.
	gs := []Goroutine{{Status: "waiting", WaitReason: "select"}, {Status: "running"}, {Status: "waiting", WaitReason: "select"}}
	for _, kind := range KeyKinds {
		g := GroupBy(gs, Key{Kind: kind, Label: "x"})
		n := 0
		for _, grp := range g {
			n += grp.Count
			if grp.MaxWaitSeconds != 0 || grp.StackBytes != 0 || grp.Examples != nil {
				t.Errorf("--by %s: group %q invents wait %v, stack %d or examples %v", kind, grp.Key, grp.MaxWaitSeconds, grp.StackBytes, grp.Examples)
			}
		}
		if n != len(gs) {
			t.Errorf("--by %s: groups hold %d goroutines, want %d", kind, n, len(gs))
		}
	}
	if g := GroupBy(gs, Key{Kind: "location"}); len(g) != 1 || g[0].Key != NoStack {
		t.Errorf("--by location without frames: %v, want one group %q", g, NoStack)
	}
	if g := GroupBy(gs, Key{Kind: "origin"}); len(g) != 1 || g[0].Key != NoOrigin {
		t.Errorf("--by origin without origins: %v, want one group %q", g, NoOrigin)
	}
	if g := GroupBy(nil, Key{}); len(g) != 0 {
		t.Errorf("GroupBy(nil) = %v, want no groups", g)
	}
}

func TestTopUserFrame(t *testing.T) {
	f := func(fns ...string) []Location {
		var out []Location
		for _, fn := range fns {
			out = append(out, Location{Func: fn})
		}
		return out
	}
	tests := []struct {
		name   string
		frames []Location
		want   string // "" = nil
	}{
		{"skips runtime frames", f("runtime.gopark", "runtime.chanrecv1", "main.worker", "main.main"), "main.worker"},
		{"skips runtime/internal and internal/runtime", f("runtime/internal/syscall.Syscall6", "internal/runtime/atomic.Load", "net.(*conn).Read"), "net.(*conn).Read"},
		{"runtime/pprof is not the runtime", f("runtime.gopark", "runtime/pprof.profileWriter"), "runtime/pprof.profileWriter"},
		{"all-runtime stacks give the goroutine's own function", f("runtime.gopark", "runtime.goparkunlock", "runtime.bgsweep"), "runtime.bgsweep"},
		{"no frames give nil", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := TopUserFrame(&Goroutine{Frames: tt.frames})
			got := ""
			if l != nil {
				got = l.Func
			}
			if got != tt.want {
				t.Errorf("TopUserFrame = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		in      string
		want    Key
		wantErr string
	}{
		{"origin", Key{Kind: "origin"}, ""},
		{"start", Key{Kind: "start"}, ""},
		{"location", Key{Kind: "location"}, ""},
		{"wait", Key{Kind: "wait"}, ""},
		{"parent", Key{Kind: "parent"}, ""},
		{"label:tenant", Key{Kind: "label", Label: "tenant"}, ""},
		{"label:", Key{}, "label:KEY"},
		{"label", Key{}, "origin, start, location, wait, label:KEY, parent"},
		{"Origin", Key{}, "origin, start, location, wait, label:KEY, parent"},
		{"", Key{}, "valid keys"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			k, err := ParseKey(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseKey(%q) error %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || k != tt.want {
				t.Fatalf("ParseKey(%q) = %v, %v; want %v", tt.in, k, err, tt.want)
			}
			if k.String() != tt.in {
				t.Errorf("Key.String() = %q, want %q", k.String(), tt.in)
			}
		})
	}
}
