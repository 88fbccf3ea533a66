package report

import (
	"fmt"
	"io"
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// bigSnapshot has n goroutines in about 50 groups (10 go statements × 5 start
// functions), each with a 4-frame stack, labels and a wait.
func bigSnapshot(n int) *snapshot.Snapshot {
	s := &snapshot.Snapshot{Schema: snapshot.Schema, Source: snapshot.Source{Kind: "live", Backend: "native", Pid: 1, Exe: "big", FreezeMicros: 5000}}
	origins := make([]*snapshot.Location, 10)
	for i := range origins {
		origins[i] = loc(fmt.Sprintf("example.com/svc/pkg%d.(*T).Run", i), fmt.Sprintf("/src/svc/pkg%d/run.go", i), 40+i)
	}
	starts := make([]*snapshot.Location, 5)
	for i := range starts {
		starts[i] = loc(fmt.Sprintf("example.com/svc/task.Job%d", i), "/src/svc/task/job.go", 10*i)
	}
	s.Goroutines = make([]snapshot.Goroutine, n)
	for i := range s.Goroutines {
		o, st := origins[i%10], starts[(i/10)%5]
		s.Goroutines[i] = snapshot.Goroutine{
			ID: int64(n - i), ParentID: 1, Status: "waiting", WaitReason: []string{"chan receive", "select", "IO wait"}[i%3],
			WaitSeconds: float64(i % 5000), Origin: o, Start: st,
			Frames:     []snapshot.Location{park, chanrcv, {Func: st.Func, File: st.File, Line: st.Line + 3}, {Func: "main.main", File: "/src/main.go", Line: 9}},
			StackBytes: 8192, Labels: map[string]string{"tenant": fmt.Sprint(i % 7)},
		}
	}
	return s
}

func BenchmarkGroupByAndText100k(b *testing.B) {
	s := bigSnapshot(100_000)
	b.ResetTimer()
	for b.Loop() {
		g := snapshot.GroupSnapshot(s, snapshot.Key{})
		if len(g.Groups()) != 50 {
			b.Fatalf("%d groups, want 50", len(g.Groups()))
		}
		if err := Text(io.Discard, g, TextOptions{Verbose: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGroupByLocation100k(b *testing.B) {
	s := bigSnapshot(100_000)
	b.ResetTimer()
	for b.Loop() {
		snapshot.GroupBy(s.Goroutines, snapshot.Key{Kind: "location"})
	}
}

func BenchmarkSelect100k(b *testing.B) {
	s := bigSnapshot(100_000)
	f, err := snapshot.ParseFilter("origin:pkg3")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		snapshot.Select(s.Goroutines, []snapshot.Filter{f}, nil)
	}
}
