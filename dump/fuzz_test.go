package dump

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, what it returns must
// keep the model's invariants, and what it allocates must stay within the budget for
// the input (parseAllocLimit). Seeds are in testdata/fuzz/FuzzParse, plus small copies
// of the crafted inputs of issue 17 (empty samples, tiny JSON goroutines, header noise).
func FuzzParse(f *testing.F) {
	f.Add([]byte(recvBlock))
	f.Add([]byte(debug1Text))
	f.Add(emptySamplesProfile(10_000))
	f.Add([]byte(`{"schema":"gorigin.snapshot/v1","source":{"kind":"live"},"goroutines":[` + strings.Repeat(`{"status":"idle"},`, 1000) + `{"status":"idle"}]}`))
	f.Add([]byte(strings.Repeat("goroutine 1 gp= ", 2000) + ":\n" + strings.Repeat("goroutine 1 [", 2000) + ":\n"))
	f.Add([]byte("goroutine profile: total 1000000\n1000000 @ 0x1\n#\t0x1\tmain.f+0x1\t/src/f.go:1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s *snapshot.Snapshot
		var err error
		used := allocated(func() { s, err = Parse(bytes.NewReader(data), Options{}) })
		if limit := parseAllocLimit(data); used > limit {
			t.Fatalf("Parse of %d bytes allocated %d, more than the budget for them (%d)", len(data), used, limit)
		}
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse returned an invalid snapshot: %v", err)
		}
		headers := bytes.Count(data, []byte("goroutine "))
		if s.Source.Kind == "dump" && len(s.Goroutines) > headers && !bytes.Contains(data, []byte(" @ ")) && data[0] != 0x1f {
			t.Fatalf("%d goroutines from %d headers", len(s.Goroutines), headers)
		}
	})
}

// parseAllocLimit is what Parse may allocate for data: buffers of fixed size, a small
// multiple of the input per byte (a goroutine header of 17 bytes becomes a 136-byte
// struct), and what the input's kind legitimately expands to: a gzipped profile its
// uncompressed bytes and their decoding (maxProfileCost), the counts of a debug=1
// profile their goroutines.
func parseAllocLimit(data []byte) uint64 {
	limit := uint64(16<<20) + 128*uint64(len(data))
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		n := int64(0)
		if zr, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
			n, _ = io.Copy(io.Discard, io.LimitReader(zr, maxProfileBytes+1))
		}
		limit += 4*uint64(n) + maxProfileCost + maxKept
	}
	if bytes.Contains(data, []byte(" @ ")) {
		// Up to maxExpanded goroutines, each allocated twice: in the chunks the parser
		// fills, and in the one slice they are copied into at the end.
		limit += max(maxKept, 2*maxExpanded*uint64(snapshot.GoroutineSize))
	}
	return limit
}
