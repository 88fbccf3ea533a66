package snapshot

import (
	"reflect"
	"regexp"
	"testing"
)

// TestLocationSkipsTheStandardLibrary: --by location groups where the program's own code
// waits, not in sync or internal/poll; a goroutine of the standard library alone is
// grouped at its innermost frame outside the runtime.
func TestLocationSkipsTheStandardLibrary(t *testing.T) {
	f := func(fns ...string) []Location {
		var out []Location
		for i, fn := range fns {
			out = append(out, Location{Func: fn, File: "/src/f.go", Line: 10 + i})
		}
		return out
	}
	tests := []struct {
		name   string
		frames []Location
		want   string
	}{
		{"a mutex", f("runtime.gopark", "runtime.goparkunlock", "sync.runtime_SemacquireMutex", "sync.(*Mutex).lockSlow", "sync.(*Mutex).Lock", "github.com/acme/cache.(*C).Get", "main.main"), "github.com/acme/cache.(*C).Get"},
		{"a socket read, in a module named without a dot", f("runtime.gopark", "runtime.netpollblock", "internal/poll.runtime_pollWait", "internal/poll.(*pollDesc).wait", "internal/poll.(*FD).Read", "net.(*netFD).Read", "net.(*conn).Read", "bufio.(*Reader).fill", "leaksvc/server.(*S).readLoop"), "leaksvc/server.(*S).readLoop"},
		{"a vendored golang.org/x package is the standard library's", f("runtime.gopark", "vendor/golang.org/x/net/http2.(*pipe).Read", "main.handle"), "main.handle"},
		{"golang.org/x itself is not", f("runtime.gopark", "golang.org/x/sync/errgroup.(*Group).Wait", "main.run"), "golang.org/x/sync/errgroup.(*Group).Wait"},
		{"a goroutine of the standard library alone: its innermost frame outside the runtime", f("runtime.gopark", "runtime.netpollblock", "internal/poll.runtime_pollWait", "net/http.(*persistConn).readLoop"), "internal/poll.runtime_pollWait"},
		{"generic user code", f("runtime.gopark", "sync.(*Cond).Wait", "example.com/q.(*Queue[...]).Pop"), "example.com/q.(*Queue[...]).Pop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := Goroutine{ID: 5, Status: "waiting", Frames: tt.frames}
			if l := TopUserFrame(&g); l == nil || l.Func != tt.want {
				t.Fatalf("TopUserFrame = %v, want %s", l, tt.want)
			}
			groups := GroupBy([]Goroutine{g}, Key{Kind: ByLocation})
			if groups[0].Location.Func != tt.want || groups[0].Key != groups[0].Location.String() {
				t.Errorf("--by location: key %q, location %v, want %s", groups[0].Key, groups[0].Location, tt.want)
			}
			flt, err := ParseFilter("location:^" + regexp.QuoteMeta(tt.want) + " ")
			if err != nil {
				t.Fatal(err)
			}
			if !flt.Match(&g) {
				t.Errorf("--match location: does not match the location the table shows (%s)", tt.want)
			}
		})
	}
}

// TestParentGroupsByParentsOrigin: --by parent merges the children of the many
// goroutines of one go statement (270 handlers each starting a task are one group, not
// 270), lists their parents' ids as numbers, and keeps apart the children whose parent
// exited and those whose parent is unknown.
func TestParentGroupsByParentsOrigin(t *testing.T) {
	accept := &Location{Func: "net/http.(*Server).Serve", File: "/go/src/net/http/server.go", Line: 3360}
	handle := &Location{Func: "main.handle", File: "/app/main.go", Line: 40}
	gs := []Goroutine{{ID: 1, Status: "waiting", Start: &Location{Func: "runtime.main"}}}
	var parents []int64
	for i := range 270 {
		id := int64(1000 + i*7)
		if i == 100 {
			id = 104 // numerically smaller than 1000, larger than 99 as text
		}
		parents = append(parents, id)
		gs = append(gs, Goroutine{ID: id, ParentID: 1, Status: "waiting", Origin: accept, Start: &Location{Func: "net/http.(*conn).serve"}})
	}
	for i, p := range parents {
		gs = append(gs, Goroutine{ID: int64(100000 + i), ParentID: p, Status: "waiting", Origin: handle, Start: &Location{Func: "main.task"}})
	}
	gs = append(gs,
		Goroutine{ID: 200000, ParentID: 99999, Status: "waiting", Origin: handle, Start: &Location{Func: "main.task"}}, // its parent exited
		Goroutine{ID: 200001, Status: "waiting", Origin: handle, Start: &Location{Func: "main.task"}},                  // parent unknown
	)
	groups := GroupBy(gs, Key{Kind: ByParent})
	var got []string
	for _, g := range groups {
		got = append(got, g.Key)
	}
	want := []string{ // by count, then by key
		"parent " + NoOrigin + " → runtime.main",                                                   // the 270 handlers
		"parent net/http.(*Server).Serve /go/src/net/http/server.go:3360 → net/http.(*conn).serve", // the 270 tasks
		NoParent,   // goroutine 1 and 200001
		ParentGone, // 200000
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("groups %q\nwant %q", got, want)
	}
	tasks := groups[1]
	if tasks.Count != 270 || tasks.ParentOrigin != accept || tasks.ParentStart.Func != "net/http.(*conn).serve" {
		t.Errorf("tasks: count %d, parent origin %v start %v", tasks.Count, tasks.ParentOrigin, tasks.ParentStart)
	}
	if want := []int64{104, 1000, 1007, 1014, 1021}; !reflect.DeepEqual(tasks.Parents, want) {
		t.Errorf("tasks' parents %v, want the smallest ids as numbers %v", tasks.Parents, want)
	}
	if h := groups[0]; h.Count != 270 || h.ParentOrigin != nil || !reflect.DeepEqual(h.Parents, []int64{1}) {
		t.Errorf("handlers: count %d, parent origin %v, parents %v; want 270, none, [1]", h.Count, h.ParentOrigin, h.Parents)
	}
	if g := groups[3]; !reflect.DeepEqual(g.Parents, []int64{99999}) {
		t.Errorf("%s: parents %v, want [99999]", g.Key, g.Parents)
	}

	// Filtered: only the tasks are shown, and their parents are still found.
	var tasksOnly []Goroutine
	for _, g := range gs {
		if g.Start.Func == "main.task" {
			tasksOnly = append(tasksOnly, g)
		}
	}
	sel := GroupSelection(&Snapshot{Schema: Schema, Goroutines: tasksOnly}, gs, Key{Kind: ByParent}).Groups()
	if len(sel) != 3 || sel[0].Key != want[1] || sel[0].Count != 270 {
		t.Errorf("GroupSelection of the tasks: %d groups, first %q ×%d; want the parents' origin found among all goroutines", len(sel), sel[0].Key, sel[0].Count)
	}
	if sel := GroupBy(tasksOnly, Key{Kind: ByParent}); sel[0].Key != ParentGone {
		t.Errorf("GroupBy of the tasks alone: first group %q, want %q (their parents are not among them)", sel[0].Key, ParentGone)
	}
}
