package capture

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// lockedPages is pages for concurrent readers (a packed plan reads on every CPU).
type lockedPages struct {
	mu sync.Mutex
	p  *pages
}

func (l *lockedPages) ReadBatch(regions []dbg.Region) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.p.ReadBatch(regions)
}

// TestPackedCopy: a packed plan returns for each g exactly the first keep bytes of the
// memory at its address (the oracle: the test memory's own bytes), across more runs than
// a staging buffer holds, in shuffled allgs order, with a g appended since the plan, and
// leaves out only a g it cannot read; its buffer is keep/size of a whole copy's.
func TestPackedCopy(t *testing.T) {
	const n, size, stride, keep = 6000, 456, 480, 360 // 2.9 MB of slots: a dozen staging buffers
	base := uint64(0x1000000)
	mem := &pages{present: map[uint64]bool{}}
	for a := base; a < base+n*stride+2*4096; a += 4096 {
		mem.present[a] = true
	}
	gs := make([]uint64, n)
	for i := range gs {
		gs[i] = base + uint64(i)*stride
	}
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(gs), func(i, j int) { gs[i], gs[j] = gs[j], gs[i] })
	plan := planPacked(gs, size, keep)
	defer plan.free()
	if len(plan.buf) != n*keep {
		t.Fatalf("packed buffer %d bytes, want %d", len(plan.buf), n*keep)
	}
	if len(plan.runs) < 2*len(plan.stages) {
		t.Fatalf("%d runs for %d workers: the test does not make each worker fill its staging buffer twice", len(plan.runs), len(plan.stages))
	}
	check := func(t *testing.T, addrs []uint64, raws [][]byte) {
		t.Helper()
		for i, a := range addrs {
			if !bytes.Equal(raws[i], mem.want(a, keep)) {
				t.Fatalf("g at %#x: %d bytes, not the first %d of its memory", a, len(raws[i]), keep)
			}
		}
	}
	locked := &lockedPages{p: mem}

	t.Run("every g, and one appended", func(t *testing.T) {
		more := append(slices.Clone(gs), base+n*stride)
		addrs, raws, err := plan.read(locked, more)
		if err != nil || !slices.Equal(addrs, more) {
			t.Fatalf("read %d of %d g's: %v", len(addrs), len(more), err)
		}
		check(t, addrs, raws)
		back := plan.giveBack(raws)
		for i := range raws { // decoded in allgs order: nothing given back before its turn
			if !bytes.Equal(raws[i], mem.want(addrs[i], keep)) {
				t.Fatalf("g %d at %#x lost its bytes before it was decoded", i, addrs[i])
			}
			if back != nil {
				back(i)
			}
		}
	})

	t.Run("an unreadable page: the others still read", func(t *testing.T) {
		plan := planPacked(gs, size, keep)
		defer plan.free()
		hole := base + 100*4096
		delete(mem.present, hole)
		defer func() { mem.present[hole] = true }()
		addrs, raws, err := plan.read(locked, gs)
		if err != nil {
			t.Fatal(err)
		}
		lost := 0
		for _, a := range gs {
			if a < hole+4096 && a+keep > hole {
				lost++
				if slices.Contains(addrs, a) {
					t.Fatalf("g at %#x, across the hole, was returned", a)
				}
			}
		}
		if len(addrs) != len(gs)-lost || lost == 0 {
			t.Fatalf("read %d g's of %d with %d across the hole", len(addrs), len(gs), lost)
		}
		check(t, addrs, raws)
	})
}

// TestPackedKeep: only large copies are packed, and never for a caller that reads
// whole g's.
func TestPackedKeep(t *testing.T) {
	const size, decoded = 456, 360
	for _, c := range []struct {
		n     int
		whole bool
		want  uint64
	}{
		{100_000, false, size}, // 46 MB: the freeze stays what it is
		{1_000_000, false, decoded},
		{1_000_000, true, size},
	} {
		if got := packedKeep(c.n, size, decoded, c.whole); got != c.want {
			t.Errorf("packedKeep(%d g's, whole %v) = %d, want %d", c.n, c.whole, got, c.want)
		}
	}
	if got := packedKeep(1_000_000, size, 0, false); got != size {
		t.Errorf("with no decoded size known: %d, want the whole %d", got, size)
	}
}

// TestPackedTake: a snapshot of a live Go process taken with every copy packed lists the
// same goroutines, with the same ids, states, wait reasons, go statements and start
// functions, as one taken with whole g structs (the oracle: the whole copy).
func TestPackedTake(t *testing.T) {
	proc := attachSelfTarget(t)
	whole, err := Take(proc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func(p uint64) { packFrom = p }(packFrom)
	packFrom = 0
	packed, err := Take(proc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	key := func(s *snapshot.Snapshot) []string {
		var out []string
		for _, g := range s.Goroutines {
			out = append(out, fmt.Sprintf("%d %s %q %v %v", g.ID, g.Status, g.WaitReason, g.Origin, g.Start))
		}
		slices.Sort(out)
		return out
	}
	w, p := key(whole), key(packed)
	if userGoroutines(whole) == 0 || len(w) != len(p) {
		t.Fatalf("whole copy: %d goroutines, packed: %d", len(w), len(p))
	}
	// The runtime's own goroutines may change state between the two looks (a GC worker
	// wakes): the program's must not.
	for i := range w {
		if w[i] != p[i] && !strings.Contains(w[i]+p[i], "runtime.") {
			t.Errorf("whole copy: %s\npacked:     %s", w[i], p[i])
		}
	}
}
