package snapshot

import (
	"slices"
	"testing"
)

func TestGrewEveryInterval(t *testing.T) {
	for _, c := range []struct {
		counts []int
		grew   bool
	}{
		{nil, false}, {[]int{5}, false}, {[]int{1, 2}, true}, {[]int{1, 2, 3, 100}, true},
		{[]int{1, 2, 2, 3}, false}, // flat in one interval
		{[]int{1, 5, 4, 9}, false}, // grew in total, not in every interval
		{[]int{3, 2, 1}, false},
	} {
		if got := GrewEveryInterval(c.counts); got != c.grew {
			t.Errorf("GrewEveryInterval(%v) = %v, want %v", c.counts, got, c.grew)
		}
	}
}

func TestWithoutSystem(t *testing.T) {
	gs := []Goroutine{{ID: 1}, {ID: 2, System: true}, {ID: 3}, {ID: 4, System: true}}
	user, hidden := WithoutSystem(gs)
	var ids []int64
	for _, g := range user {
		ids = append(ids, g.ID)
	}
	if hidden != 2 || !slices.Equal(ids, []int64{1, 3}) {
		t.Errorf("WithoutSystem: ids %v, hidden %d; want [1 3], 2", ids, hidden)
	}
	if len(gs) != 4 || !gs[1].System {
		t.Error("WithoutSystem changed its argument")
	}
	if user, hidden := WithoutSystem(user); hidden != 0 || len(user) != 2 {
		t.Errorf("no system goroutines: %d kept, %d hidden", len(user), hidden)
	}
}
