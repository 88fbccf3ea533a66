package snapshot

import "testing"

func TestCompare(t *testing.T) {
	worker := func(id int64, wait float64) Goroutine {
		return Goroutine{ID: id, Status: "waiting", WaitReason: "chan receive", WaitSeconds: wait,
			Origin: &Location{Func: "main.serve", File: "/app/main.go", Line: 94}, Start: &Location{Func: "main.worker"}}
	}
	poller := func(id int64) Goroutine {
		return Goroutine{ID: id, Status: "waiting", WaitReason: "select",
			Origin: &Location{Func: "main.main", File: "/app/main.go", Line: 20}, Start: &Location{Func: "main.poll"}}
	}
	gone := Goroutine{ID: 3, Status: "running", Origin: &Location{Func: "main.main", File: "/app/main.go", Line: 30}}
	before := []Goroutine{worker(10, 0), poller(20), poller(21), poller(22), gone}
	after := []Goroutine{worker(10, 300), worker(40, 120), worker(41, 5), worker(42, 0), poller(20), poller(21), poller(23)}
	s := &Snapshot{Source: Source{Kind: "dump"}}
	d := Compare(s, s, before, after, Key{}, DiffOptions{MinAge: 60})
	if !d.IDsKnown || d.New != 4 || d.Gone != 2 || d.NewOld != 1 {
		t.Errorf("new %d, gone %d, new and old %d (ids known %v): want 4, 2, 1", d.New, d.Gone, d.NewOld, d.IDsKnown)
	}
	want := []struct {
		key                        string
		before, after, delta, new_ int
	}{
		{"main.serve /app/main.go:94 → main.worker", 1, 4, 3, 3},
		{"main.main /app/main.go:20 → main.poll", 3, 3, 0, 1},
		{"main.main /app/main.go:30", 1, 0, -1, 0},
	}
	if len(d.Groups) != len(want) {
		t.Fatalf("%d groups, want %d: %+v", len(d.Groups), len(want), d.Groups)
	}
	for i, w := range want {
		g := d.Groups[i]
		if g.Key != w.key || g.Before != w.before || g.After != w.after || g.Delta != w.delta || g.New != w.new_ {
			t.Errorf("group %d: %+v, want %+v", i, g, w)
		}
	}
	if ids := d.Groups[0].NewIDs; len(ids) != 3 || ids[0] != 40 || ids[2] != 42 {
		t.Errorf("new ids %v, want [40 41 42]", ids)
	}

	// Without ids (a debug=1 profile) there is nothing new to count, only deltas.
	noIDs := func(gs []Goroutine) []Goroutine {
		out := append([]Goroutine(nil), gs...)
		for i := range out {
			out[i].ID = 0
		}
		return out
	}
	d = Compare(s, s, noIDs(before), noIDs(after), Key{}, DiffOptions{})
	if d.IDsKnown || d.New != 0 || d.Groups[0].Delta != 3 || d.Groups[0].New != 0 {
		t.Errorf("without ids: %+v", d)
	}
}
