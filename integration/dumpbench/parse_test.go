package dumpbench

import (
	"bytes"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/DataDog/gostackparse"
	"github.com/maruel/panicparse/v2/stack"

	"github.com/gorigin-dev/gorigin/dump"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// The three parsers, each turning the dump's bytes into its own result.
func parseGorigin(data []byte) (*snapshot.Snapshot, error) {
	return dump.Parse(bytes.NewReader(data), dump.Options{})
}

func parseGostackparse(data []byte) ([]*gostackparse.Goroutine, []error) {
	return gostackparse.Parse(bytes.NewReader(data))
}

// parsePanicparse reads with panicparse's cheapest options: no argument naming, no path
// guessing, no source analysis.
func parsePanicparse(data []byte) (*stack.Snapshot, error) {
	s, _, err := stack.ScanSnapshot(bytes.NewReader(data), io.Discard, &stack.Opts{})
	if err == io.EOF {
		err = nil
	}
	return s, err
}

// TestParsersAgree is the benchmark's precondition: on the same dump all three parsers
// find the same goroutine ids, and gorigin also extracts what the others do not (parent
// ids, labels, start functions and origins by go statement).
func TestParsersAgree(t *testing.T) {
	data := theDump(t)
	s, err := parseGorigin(data)
	if err != nil {
		t.Fatal(err)
	}
	gs, errs := parseGostackparse(data)
	if len(errs) > 0 {
		t.Fatalf("gostackparse: %v", errs[0])
	}
	ps, err := parsePanicparse(data)
	if err != nil || ps == nil {
		t.Fatalf("panicparse: %v", err)
	}
	want := map[int64]bool{}
	for _, g := range gs {
		want[int64(g.ID)] = true
	}
	if len(s.Goroutines) != len(gs) || len(ps.Goroutines) != len(gs) {
		t.Fatalf("goroutines: gorigin %d, gostackparse %d, panicparse %d", len(s.Goroutines), len(gs), len(ps.Goroutines))
	}
	for _, g := range ps.Goroutines {
		if !want[int64(g.ID)] {
			t.Fatalf("panicparse has goroutine %d, gostackparse does not", g.ID)
		}
	}
	counts := map[string]int{}
	withParent, withLabel := 0, 0
	for _, g := range s.Goroutines {
		if !want[g.ID] {
			t.Fatalf("gorigin has goroutine %d, gostackparse does not", g.ID)
		}
		if g.Origin == nil {
			continue
		}
		fn := g.Origin.Func[strings.LastIndex(g.Origin.Func, "/")+1:]
		fn = strings.TrimSuffix(fn, ".func1") // spawnWorkers's go statement is in a pprof.Do closure
		counts[fn]++
		if g.ParentID != 0 {
			withParent++
		}
		if fn == originWorkers {
			if v := g.Labels[labelKey]; strings.HasPrefix(v, labelValueBase) {
				withLabel++
			}
		}
	}
	n := *nGoroutines
	nw, ns := n*6/10, n*3/10
	for fn, c := range map[string]int{originWorkers: nw, originSelects: ns, originLockers: n - nw - ns} {
		if counts[fn] != c {
			t.Errorf("origin %s: %d goroutines, want %d", fn, counts[fn], c)
		}
	}
	if withParent < n {
		t.Errorf("%d goroutines with a parent id, want at least %d", withParent, n)
	}
	if withLabel != nw {
		t.Errorf("%d workers with label %s, want %d (GODEBUG=tracebacklabels=1 puts them in the header)", withLabel, labelKey, nw)
	}
	t.Logf("dump: %d goroutines, %.1f MB", len(s.Goroutines), float64(len(data))/(1<<20))
}

// BenchmarkParse parses the dump with each parser: MB/s from SetBytes, B/op and
// allocs/op, ns per goroutine, the same per CPU second (MB/cpu-s, cpu-ns/goroutine: the
// process's CPU time, garbage collection included, steadier than wall time on a shared
// machine), and MB-kept, the heap the result holds once parsed.
func BenchmarkParse(b *testing.B) {
	data := theDump(b)
	s, err := parseGorigin(data)
	if err != nil {
		b.Fatal(err)
	}
	n := len(s.Goroutines)
	s = nil
	parsers := []struct {
		name  string
		parse func([]byte) (any, int)
	}{
		{"gorigin", func(d []byte) (any, int) {
			s, err := parseGorigin(d)
			if err != nil {
				b.Fatal(err)
			}
			return s, len(s.Goroutines)
		}},
		{"gostackparse", func(d []byte) (any, int) {
			gs, errs := parseGostackparse(d)
			if len(errs) > 0 {
				b.Fatal(errs[0])
			}
			return gs, len(gs)
		}},
		{"panicparse", func(d []byte) (any, int) {
			s, err := parsePanicparse(d)
			if err != nil || s == nil {
				b.Fatal(err)
			}
			return s, len(s.Goroutines)
		}},
	}
	for _, p := range parsers {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var res any
			cpu0 := cpuTime()
			for b.Loop() {
				var got int
				res, got = p.parse(data)
				if got != n {
					b.Fatalf("%d goroutines, want %d", got, n)
				}
			}
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/goroutine")
			b.ReportMetric(float64(len(data))/(1<<20)/(cpu.Seconds()/float64(b.N)), "MB/cpu-s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/goroutine")
			b.ReportMetric(keptMB(func() any { res = nil; return nil }, func() any { r, _ := p.parse(data); return r }), "MB-kept")
			runtime.KeepAlive(res)
		})
	}
}

// keptMB is how much heap one parse's result keeps alive after a GC.
func keptMB(drop func() any, parse func() any) float64 {
	drop()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := parse()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(r)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
}
