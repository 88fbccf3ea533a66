package snapshot

import "testing"

// TestGroupByObject groups by wait object: goroutines on one channel together, a select
// by all its channels, and those without an object by why.
func TestGroupByObject(t *testing.T) {
	q := WaitObject{Kind: "chan", Addr: "0xc000010000", Type: "chan *main.Request", ReachedFrom: "the global main.queue"}
	own := WaitObject{Kind: "chan", Addr: "0xc000020000", Type: "chan int"}
	gs := []Goroutine{
		{ID: 1, Status: StatusWaiting, WaitReason: "chan receive", WaitsOn: []WaitObject{q}},
		{ID: 2, Status: StatusWaiting, WaitReason: "chan receive", WaitsOn: []WaitObject{q}},
		{ID: 3, Status: StatusLeaked, WaitReason: "chan receive", WaitsOn: []WaitObject{own}},
		{ID: 4, Status: StatusWaiting, WaitReason: "select", WaitsOn: []WaitObject{q, own}},
		{ID: 5, Status: StatusWaiting, WaitReason: "sync.Mutex.Lock"},
		{ID: 6, Status: StatusWaiting, WaitReason: "chan send (nil chan)"},
		{ID: 7, Status: StatusRunning},
		{ID: 8, Status: StatusWaiting, WaitReason: "IO wait"},
	}
	k, err := ParseKey("object")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int64{
		"chan *main.Request 0xc000010000, reached from the global main.queue":                                              {1, 2},
		"chan int 0xc000020000, reached from unknown":                                                                      {3},
		"chan *main.Request 0xc000010000, reached from the global main.queue; chan int 0xc000020000, reached from unknown": {4},
		ObjectMissing:                       {5},
		"(no object: chan send (nil chan))": {6},
		NoObject:                            {7, 8},
	}
	groups := GroupBy(gs, k)
	if len(groups) != len(want) {
		t.Fatalf("%d groups, want %d: %+v", len(groups), len(want), groups)
	}
	for _, g := range groups {
		ids := want[g.Key]
		if len(ids) != g.Count {
			t.Errorf("group %q has %d goroutines, want %v", g.Key, g.Count, ids)
			continue
		}
		for i, m := range g.Members {
			if gs[m].ID != ids[i] {
				t.Errorf("group %q: member %d is goroutine %d, want %d", g.Key, i, gs[m].ID, ids[i])
			}
		}
	}
}

// TestWaitsOnEncodesAsEncodingJSON: the snapshot's hand-written encoder writes a
// goroutine's wait objects, hostile text included, as encoding/json does.
func TestWaitsOnEncodesAsEncodingJSON(t *testing.T) {
	for _, s := range hostile {
		g := Goroutine{Status: StatusWaiting, WaitReason: "select", WaitsOn: []WaitObject{
			{Kind: "chan", Addr: "0x1", Type: s, ReachedFrom: s}, {Kind: s, Addr: s},
		}}
		checkSameAsStd(t, &g)
	}
}
