package agent

import (
	"testing"
)

// benchSnapshot measures one Snapshot (runtime.Stack of every goroutine, then parsing,
// and the goroutine profile for labels when the traceback has none) with n extra
// goroutines parked on a channel. Run with
//
//	go test ./agent -run '^$' -bench Snapshot -benchtime 5x
//
// stopped-µs/op is how long runtime.Stack held the world stopped; the rest of ns/op
// runs concurrently with the service.
func benchSnapshot(b *testing.B, n int) {
	for _, godebug := range []string{"tracebacklabels=0", "tracebacklabels=1"} {
		// With tracebacklabels=0 (Go 1.26's default) the labels come from a second,
		// debug=1 goroutine profile; with =1 runtime.Stack prints them.
		b.Run(godebug, func(b *testing.B) {
			b.Setenv("GODEBUG", godebug)
			benchSnapshotOnce(b, n)
		})
	}
}

func benchSnapshotOnce(b *testing.B, n int) {
	release := make(chan struct{})
	defer close(release)
	for range n {
		go blockOn(release)
	}
	if _, err := Snapshot(); err != nil { // warm the buffer size hint
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var stopped int64
	for b.Loop() {
		s, err := Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Goroutines) < n {
			b.Fatalf("snapshot has %d goroutines, want at least %d", len(s.Goroutines), n)
		}
		stopped += s.Source.FreezeMicros
	}
	b.ReportMetric(float64(stopped)/float64(b.N), "stopped-µs/op")
}

func BenchmarkSnapshot10k(b *testing.B) { benchSnapshot(b, 10_000) }

func BenchmarkSnapshot100k(b *testing.B) {
	if testing.Short() {
		b.Skip("100k goroutines take ~300 MB")
	}
	benchSnapshot(b, 100_000)
}
