package cli

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestBoundOutputMemory: a small heap gets no limit; a large one a limit above what is
// live (so the collector does not run without end) and well under the default headroom
// of twice the live heap; a lower $GOMEMLIMIT is kept.
func TestBoundOutputMemory(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	debug.SetMemoryLimit(math.MaxInt64)
	runtime.GC()
	boundOutputMemory()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("small heap (%d MB live): limit set to %d MB", liveHeap()>>20, got>>20)
	}

	big := make([][]byte, 200)
	for i := range big {
		big[i] = make([]byte, 1<<20)
		big[i][0] = 1
	}
	runtime.GC()
	live := liveHeap()
	boundOutputMemory()
	got := uint64(debug.SetMemoryLimit(-1))
	if got <= live+boundHeadroom/2 || got >= 2*live {
		t.Errorf("%d MB live: limit %d MB, want above it by about %d MB and under twice it", live>>20, got>>20, boundHeadroom>>20)
	}

	debug.SetMemoryLimit(100 << 20)
	boundOutputMemory()
	if got := debug.SetMemoryLimit(-1); got != 100<<20 {
		t.Errorf("a limit of 100 MB in force became %d MB", got>>20)
	}
	runtime.KeepAlive(big)
}
