package capture

import (
	"os"
	"slices"
	"testing"

	"github.com/gorigin-dev/gorigin/gstruct"
)

// TestLabelled checks the frozen-time scan for labelled g's, serial and split over
// threads, against the g's that were given a labels pointer.
func TestLabelled(t *testing.T) {
	rt, err := gstruct.Open(os.Args[0])
	if err != nil {
		t.Skipf("the test binary's runtime layout cannot be read (built without DWARF?): %v", err)
	}
	for _, n := range []int{0, 1, 100, 3*parallelScan + 7} {
		raws := make([][]byte, n)
		var want []int
		for i := range raws {
			raws[i] = make([]byte, rt.GSize())
			if i%97 == 3 || i == n-1 {
				for j := range raws[i] {
					raws[i][j] = 0xff // g.labels set, wherever it is
				}
				want = append(want, i)
			}
		}
		got := labelled(rt, raws)
		if !slices.Equal(got, want) {
			t.Errorf("%d g's: labelled found %d (%v...), want %d", n, len(got), got[:min(len(got), 5)], len(want))
		}
	}
}
