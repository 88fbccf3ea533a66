package dump

import (
	"bytes"
	"fmt"
	"testing"
)

// TestParseAllocationsDoNotGrowPerGoroutine parses dumps of 2,000 and 8,000 goroutines
// (genDump's four shapes, and Go 1.26's labels in the bracket) and checks that the
// 6,000 goroutines more cost at most a few allocations: names, locations, label maps
// and stacks are shared, lines are scanned in place. Three allocations per header crept
// in once (the search words converted for every header) and made the parse a third
// slower; this catches the next one.
func TestParseAllocationsDoNotGrowPerGoroutine(t *testing.T) {
	gen := func(n int) []byte {
		var b bytes.Buffer
		genDump(&b, 1, n)
		for i := n + 1; i <= n+n/4; i++ {
			fmt.Fprintf(&b, "goroutine %d [chan receive labels:{\"tenant\": \"t%d\"}]:\nmain.worker(0xc000123456)\n\t/src/app/worker.go:88 +0x34\ncreated by main.spawn.func1 in goroutine 8\n\t/src/app/spawn.go:81 +0x90\n\n", i, i%10)
		}
		return b.Bytes()
	}
	allocs := func(data []byte) float64 {
		return testing.AllocsPerRun(3, func() {
			s, err := Parse(bytes.NewReader(data), Options{})
			if err != nil || len(s.Goroutines) == 0 {
				t.Fatalf("parse: %v, %d goroutines", err, len(s.Goroutines))
			}
		})
	}
	small, large := allocs(gen(2000)), allocs(gen(8000))
	// The goroutines are collected in chunks of 4096: a few allocations more, not one
	// per goroutine.
	if extra := large - small; extra > 20 {
		t.Errorf("%.0f allocations for 2,500 goroutines, %.0f for 10,000: %.0f more, want a handful (no allocation per goroutine)", small, large, extra)
	}
}
