package dump

import (
	"bytes"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, and what it returns
// must keep the model's invariants. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(recvBlock))
	f.Add([]byte(debug1Text))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(bytes.NewReader(data), Options{})
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
