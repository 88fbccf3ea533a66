package snapshot

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestLeakReportRoundTrip: the leaks report a snapshot carries comes back from its JSON
// as it was encoded, and a report larger than the decoding budget is refused.
func TestLeakReportRoundTrip(t *testing.T) {
	s := &Snapshot{Schema: Schema, Source: Source{Kind: "live", Backend: "native", Pid: 7},
		Goroutines: []Goroutine{{ID: 1, Status: "waiting", Leak: "live"}, {ID: 5, Status: "waiting", Leak: "leaked"}},
		Leaks: &LeakReport{Mode: "copy", FreezeMicros: 1234, CopiedBytes: 1 << 20,
			Groups: []LeakGroup{{Verdict: "leaked", Origin: &Location{Func: "main.f", File: "/m.go", Line: 3}, Goroutines: []int64{5},
				Why: []string{"leaked: nothing reaches it"}, WaitObjects: []LeakWaitObject{{Kind: "chan", Addr: "0xc000010000", Type: "chan *main.T", Where: "heap", Waiters: 1}}}},
			ByDesign: []LeakByDesign{{ID: 1, Why: "main parked in select {} — by design"}}}}
	var b bytes.Buffer
	if err := Encode(&b, s); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Leaks, s.Leaks) {
		t.Errorf("leaks report after a round trip:\n got %+v\nwant %+v", got.Leaks, s.Leaks)
	}
	budget := int64(4096*GoroutineSize + 1<<20) // room for the goroutines, not for 4 MB of why
	if _, err := decode(bytes.NewReader(b.Bytes()), budget); err != nil {
		t.Fatalf("the small report within the budget: %v", err)
	}
	big := strings.Replace(b.String(), `"why": [`, `"why": ["`+strings.Repeat("x", 4<<20)+`",`, 1)
	if _, err := decode(strings.NewReader(big), budget); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "leaks report") {
		t.Errorf("a leaks report past the budget: %v, want ErrTooLarge for the leaks report", err)
	}
}
