package dump

import (
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestIDSetFindsRepeats: every repeated id is found with the index of its first copy,
// whether it is small (the bitmap), far above the others (the map), or comes after the
// first repeat (the index map).
func TestIDSetFindsRepeats(t *testing.T) {
	ids := []int64{1, 5, 1 << 40, 70, 5, 9, 1 << 40, 70, 3 << 50, 3 << 50, 1}
	want := map[int]int{4: 1, 6: 2, 7: 3, 9: 5, 10: 0} // position in ids → index of the kept copy
	var s idSet
	var kept []snapshot.Goroutine
	get := func(i int) *snapshot.Goroutine { return &kept[i] }
	for pos, id := range ids {
		if s.add(id, len(kept)) {
			w, ok := want[pos]
			if !ok {
				t.Fatalf("id %d at %d reported as a repeat", id, pos)
			}
			if got := s.index(id, len(kept), get); got != w {
				t.Errorf("id %d at %d: earlier copy at %d, want %d", id, pos, got, w)
			}
			delete(want, pos)
			continue
		}
		kept = append(kept, snapshot.Goroutine{ID: id})
	}
	for pos := range want {
		t.Errorf("id %d at %d not reported as a repeat", ids[pos], pos)
	}
}
