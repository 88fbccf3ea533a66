package addr2line

import (
	"sync"
	"testing"
)

// samplePCs returns n distinct PCs spread over the whole text: function
// entries and PCs inside functions.
func samplePCs(tab *Table, n int) []uint64 {
	var pcs []uint64
	step := max(1, tab.tab.nfunc/n)
	for i := 0; i < tab.tab.nfunc && len(pcs) < n; i += step {
		e, _ := tab.tab.ftab(i)
		next, _ := tab.tab.ftab(i + 1)
		pcs = append(pcs, tab.text+uint64(e)+uint64(i%32)%uint64(max(1, next-e)))
	}
	return pcs
}

// TestConcurrentLookup looks up the same PCs from several goroutines (run
// with -race) and compares with a table used by one goroutine.
func TestConcurrentLookup(t *testing.T) {
	path := buildProg(t, toolchains[0], "exe")
	shared, serial := openTable(t, path), openTable(t, path)
	pcs := samplePCs(shared, 500)
	want := make([][]Frame, len(pcs))
	for i, pc := range pcs {
		want[i], _ = serial.Lookup(pc)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 3 * len(pcs) {
				i := (k*7 + g*13) % len(pcs)
				got, _ := shared.Lookup(pcs[i])
				if !equalFrames(got, want[i]) {
					errs <- fmtFrames(got) + " != " + fmtFrames(want[i])
					return
				}
				if len(got) > 0 {
					got[0].Func = "scribbled" // the caller owns the result
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// BenchmarkLookupCached is the budget gorigin's symbolisation of a large process rests
// on: 100,000 creation PCs from ~100 go statements, looked up again and again.
func BenchmarkLookupCached(b *testing.B) {
	tab := openTable(b, buildProg(b, toolchains[0], "exe"))
	pcs := samplePCs(tab, 100)
	for _, pc := range pcs {
		tab.Lookup(pc)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tab.Lookup(pcs[i%len(pcs)])
	}
}

// BenchmarkLookupCold measures a lookup that misses the cache.
func BenchmarkLookupCold(b *testing.B) {
	tab := openTable(b, buildProg(b, toolchains[0], "exe"))
	pcs := samplePCs(tab, 5000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if tab.lookup(pcs[i%len(pcs)]) == nil {
			b.Fatal("not found")
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	path := buildProg(b, toolchains[0], "exe")
	for i := 0; i < b.N; i++ {
		if _, err := Open(path); err != nil {
			b.Fatal(err)
		}
	}
}
