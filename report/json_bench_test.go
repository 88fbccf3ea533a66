package report

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

// BenchmarkJSON100k writes a 100,000-goroutine snapshot (stacks, labels and waits on
// every goroutine) as --format json does, and, for the ratio in the same run, encodes
// its goroutines with encoding/json, as Encode did before it had an encoder of its own.
func BenchmarkJSON100k(b *testing.B) {
	s := bigSnapshot(100_000)
	var out bytes.Buffer
	if err := JSON(&out, s); err != nil {
		b.Fatal(err)
	}
	size := int64(out.Len())
	b.Run("gorigin", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if err := JSON(io.Discard, s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			enc := json.NewEncoder(io.Discard)
			enc.SetEscapeHTML(false)
			for i := range s.Goroutines {
				if err := enc.Encode(&s.Goroutines[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
