package dump

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/google/pprof/profile"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// allocated is how many bytes f allocated (runtime.MemStats.TotalAlloc), a count that
// does not depend on timing.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// emptySamplesProfile is the crafted debug=0 profile of issue 17: a goroutine profile
// header and then n samples with nothing in them, two bytes each before gzip.
func emptySamplesProfile(n int) []byte {
	pb := []byte{0x0a, 4, 0x08, 1, 0x10, 2} // sample_type {type: 1, unit: 2}
	for _, s := range []string{"", "goroutine", "count"} {
		pb = append(append(pb, 6<<3|2, byte(len(s))), s...)
	}
	pb = append(pb, bytes.Repeat([]byte{2<<3 | 2, 0}, n)...)
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(pb)
	zw.Close()
	return gz.Bytes()
}

// realProfile is a goroutine profile as the runtime writes one: samples of distinct
// stacks over a set of functions, some with labels.
func realProfile(samples, depth int) *profile.Profile {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "goroutine", Unit: "count"}},
		PeriodType: &profile.ValueType{Type: "goroutine", Unit: "count"},
		Period:     1,
	}
	for i := range samples * depth {
		fn := &profile.Function{ID: uint64(i + 1), Name: fmt.Sprintf("example.com/service/pkg.handler%d", i), Filename: fmt.Sprintf("/src/service/pkg/file%d.go", i%100)}
		p.Function = append(p.Function, fn)
		p.Location = append(p.Location, &profile.Location{ID: uint64(i + 1), Address: uint64(0x401000 + 16*i), Line: []profile.Line{{Function: fn, Line: int64(10 + i%500)}}})
	}
	for i := range samples {
		s := &profile.Sample{Value: []int64{int64(1 + i%7)}, Location: p.Location[i*depth : (i+1)*depth]}
		if i%3 == 0 {
			s.Label = map[string][]string{"tenant": {fmt.Sprintf("t%d", i)}, "route": {"/api/v1/items"}}
		}
		p.Sample = append(p.Sample, s)
	}
	return p
}

func gzipped(t testing.TB, p *profile.Profile) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil { // gzipped, as /debug/pprof/goroutine serves it
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestProfileOfEmptySamplesIsRefused: the 32 KB gzip that took 2.7 GB is refused as too
// large before it is decoded, allocating little beyond its uncompressed bytes, while a
// real profile of the same uncompressed size is read.
func TestProfileOfEmptySamplesIsRefused(t *testing.T) {
	crafted := emptySamplesProfile(4 << 20) // 8 MB uncompressed, 4 M samples
	var err error
	used := allocated(func() { _, err = Parse(bytes.NewReader(crafted), Options{}) })
	if !errors.Is(err, snapshot.ErrTooLarge) || !strings.Contains(err.Error(), "crafted or damaged") {
		t.Fatalf("Parse of %d gzipped bytes of empty samples: %v, want snapshot.ErrTooLarge", len(crafted), err)
	}
	// The uncompressed 8 MB, read by a growing buffer, is most of it.
	if used > 64<<20 {
		t.Errorf("refusing it allocated %d MB", used>>20)
	}
	real := gzipped(t, realProfile(2000, 20))
	s, err := Parse(bytes.NewReader(real), Options{})
	if err != nil {
		t.Fatalf("a real profile of 2,000 stacks: %v", err)
	}
	if len(s.Goroutines) < 2000 {
		t.Errorf("%d goroutines from 2,000 samples", len(s.Goroutines))
	}
}

// TestProfileCostCoversParse: the cost profileCost adds up before decoding is at least
// what profile.ParseData then allocates, for the crafted shape and for real profiles.
func TestProfileCostCoversParse(t *testing.T) {
	cases := map[string][]byte{
		"empty samples":              emptySamplesProfile(100_000),
		"real, deep stacks":          gzipped(t, realProfile(500, 60)),
		"real, many shallow samples": gzipped(t, realProfile(20_000, 2)),
	}
	for name, gz := range cases {
		t.Run(name, func(t *testing.T) {
			zr, err := gzip.NewReader(bytes.NewReader(gz))
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			cost, err := profileCost(data)
			if err != nil {
				t.Fatal(err)
			}
			used := allocated(func() { profile.ParseData(data) })
			if uint64(cost) < used {
				t.Errorf("profileCost says %d bytes, ParseData allocated %d", cost, used)
			}
			t.Logf("%d bytes: cost %d, allocated %d", len(data), cost, used)
		})
	}
}

// endlessStream is a traceback that never ends: goroutine after goroutine.
type endlessStream struct {
	n   int
	buf []byte
}

func (e *endlessStream) Read(p []byte) (int, error) {
	for len(e.buf) < len(p) {
		e.n++
		e.buf = fmt.Appendf(e.buf, "goroutine %d [chan receive]:\nmain.f%d()\n\t/src/f%d.go:%d +0x1d\ncreated by main.main in goroutine 1\n\t/src/main.go:9 +0x25\n\n", e.n, e.n, e.n, e.n)
	}
	n := copy(p, e.buf)
	e.buf = e.buf[n:]
	return n, nil
}

// TestEndlessTracebackStops: a traceback stream that never ends stops at the budget with
// ErrTooLarge, having allocated a small multiple of it; a real dump of the same
// goroutines that fits is read.
func TestEndlessTracebackStops(t *testing.T) {
	const budget = 8 << 20
	var err error
	used := allocated(func() { _, err = parseTextBudget(&endlessStream{}, Options{}, budget) })
	if !errors.Is(err, snapshot.ErrTooLarge) || !strings.Contains(err.Error(), "endless") {
		t.Fatalf("parseText of an endless stream: %v, want snapshot.ErrTooLarge", err)
	}
	if used > 8*budget {
		t.Errorf("stopping an endless stream at a budget of %d MB allocated %d MB", budget>>20, used>>20)
	}
	fits := io.LimitReader(&endlessStream{}, 1<<20)
	s, err := parseTextBudget(fits, Options{}, budget)
	if err != nil {
		t.Fatalf("1 MB of the same goroutines: %v", err)
	}
	if len(s.Goroutines) < 1000 {
		t.Errorf("%d goroutines from 1 MB", len(s.Goroutines))
	}
}

// TestHeaderScanIsLinear: lines of many "goroutine " words, the shapes that made the
// scan quadratic (47 s for 64 MB), are searched a small number of times over; the
// header after such a prefix is still found.
func TestHeaderScanIsLinear(t *testing.T) {
	cases := []struct {
		name, line string
		header     bool
	}{
		{"gp= without a bracket", strings.Repeat("goroutine 1 gp= ", 4000) + ":", false},
		{"brackets without an end", strings.Repeat("goroutine 1 [", 5000) + ":", false},
		{"labels without an end", strings.Repeat("goroutine 1 [x labels:{", 3000) + "}]:", true},
		{"long states before a short one", strings.Repeat("goroutine 1 [", 5000) + "]:", true},
		{"trailing blanks", strings.Repeat("goroutine 1 [", 3000) + ":" + strings.Repeat(" ", 40000), false},
		{"a header after the noise", strings.Repeat("goroutine 2 gp= ", 4000) + "goroutine 7 [select]:", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			line := []byte(strings.TrimRight(c.line, " "))
			var in interner
			sc := headerScan{line: line[:len(line)-1]}
			h, _, ok := sc.find(&in)
			if ok != c.header {
				t.Errorf("found a header: %v (%+v), want %v", ok, h, c.header)
			}
			if sc.searched > 4*len(line) {
				t.Errorf("searched %d bytes of a %d-byte line", sc.searched, len(line))
			}
		})
	}
}

// BenchmarkHeaderScan compares a crafted line of "goroutine " words with a plain one.
func BenchmarkHeaderScan(b *testing.B) {
	for _, c := range []struct{ name, line string }{
		{"crafted", strings.Repeat("goroutine 1 [", 5000) + ":"},
		{"plain", strings.Repeat("x", 65000) + ":"},
	} {
		b.Run(c.name, func(b *testing.B) {
			line := []byte(c.line)
			b.SetBytes(int64(len(line)))
			var in interner
			for b.Loop() {
				findHeader(line, &in)
			}
		})
	}
}
