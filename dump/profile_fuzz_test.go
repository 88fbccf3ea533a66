package dump

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"strconv"
	"testing"

	"github.com/google/pprof/profile"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// FuzzProfile feeds arbitrary protobuf bytes, gzipped, to the debug=0 profile parser:
// FuzzParse mutates the gzip stream itself and so rarely reaches the protobuf decoder.
// It must never panic, and a snapshot it returns must be valid. Seeds: the committed
// debug=0 profile of FuzzParse, decompressed, and a hand-made one.
func FuzzProfile(f *testing.F) {
	if gz, err := os.ReadFile("testdata/fuzz/FuzzParse/seed-debug0.pb.gz"); err == nil {
		if raw := fuzzCorpusBytes(gz); raw != nil {
			if zr, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
				if pb, err := io.ReadAll(zr); err == nil {
					f.Add(pb)
				}
			}
		}
	}
	fn := &profile.Function{ID: 1, Name: "main.worker", Filename: "/src/main.go"}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "goroutine", Unit: "count"}},
		PeriodType: &profile.ValueType{Type: "goroutine", Unit: "count"},
		Function:   []*profile.Function{fn},
		Location:   []*profile.Location{{ID: 1, Address: 0x401000, Line: []profile.Line{{Function: fn, Line: 10}}}},
	}
	p.Sample = []*profile.Sample{{Location: p.Location, Value: []int64{3}, Label: map[string][]string{"tenant": {"a"}}}}
	var buf bytes.Buffer
	if err := p.WriteUncompressed(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	// Issue 17's crafted shape: samples with nothing in them, two bytes each.
	f.Add(append(append([]byte(nil), buf.Bytes()...), bytes.Repeat([]byte{2<<3 | 2, 0}, 50_000)...))
	f.Fuzz(func(t *testing.T, pb []byte) {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(pb)
		zw.Close()
		limit := parseAllocLimit(gz.Bytes())
		var s *snapshot.Snapshot
		var err error
		if used := allocated(func() { s, err = parseProfile(&gz, Options{}) }); used > limit {
			t.Fatalf("parseProfile of %d protobuf bytes allocated %d (limit %d)", len(pb), used, limit)
		}
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("parseProfile returned an invalid snapshot: %v", err)
		}
	})
}

// fuzzCorpusBytes is the []byte value of a corpus file in the "go test fuzz v1" format
// (one []byte("…") line), or nil.
func fuzzCorpusBytes(b []byte) []byte {
	rest, ok := bytes.CutPrefix(b, []byte("go test fuzz v1\n[]byte("))
	if !ok {
		return nil
	}
	s, err := strconv.Unquote(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(")"))))
	if err != nil {
		return nil
	}
	return []byte(s)
}
