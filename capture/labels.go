package capture

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/gstruct"
)

// parallelScan is the number of g's from which labelled looks at them on several threads.
// The look touches one cache line in each of the 46 MB the g structs of 100,000 goroutines
// take, just copied and no longer in the cache: it waits on memory, so two threads take
// about 60% of the time of one (measured: 3.6 → 2.5 ms), all of it while the target is frozen.
const parallelScan = 16 << 10

// readLabels reads the pprof labels of the goroutines that have any into out (by g
// address). Only those goroutines are decoded here: it runs while the target is frozen.
func readLabels(t dbg.Target, rt *gstruct.Runtime, addrs []uint64, raws [][]byte, out map[uint64]map[string]string) error {
	var with []*gstruct.G
	for _, i := range labelled(rt, raws) {
		if g := rt.Decode(addrs[i], raws[i]); g.Status != "dead" {
			with = append(with, &g)
		}
	}
	if len(with) == 0 {
		return nil
	}
	if err := rt.ReadLabels(t, with); err != nil {
		var re *dbg.ReadError
		if !errors.As(err, &re) {
			return fmt.Errorf("read goroutine labels: %w", err)
		}
		// Labels of goroutines that changed meanwhile stay empty.
	}
	for _, g := range with {
		if g.Labels != nil {
			out[g.Addr] = g.Labels
		}
	}
	return nil
}

// labelled returns, in order, the indexes of the raw g's whose g.labels is set.
func labelled(rt *gstruct.Runtime, raws [][]byte) []int {
	scan := func(lo, hi int) []int {
		var idx []int
		for i := lo; i < hi; i++ {
			if rt.LabelsPtr(raws[i]) != 0 {
				idx = append(idx, i)
			}
		}
		return idx
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, len(raws)/parallelScan))
	if workers <= 1 {
		return scan(0, len(raws))
	}
	parts := make([][]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[w] = scan(w*len(raws)/workers, (w+1)*len(raws)/workers)
		}()
	}
	wg.Wait()
	var idx []int
	for _, p := range parts {
		idx = append(idx, p...)
	}
	return idx
}
