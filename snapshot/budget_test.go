package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

// tinyGoroutines is the crafted JSON snapshot of issue 17's shape: n goroutines of a few
// bytes each, every one costing a whole Goroutine once decoded.
func tinyGoroutines(n int) io.Reader {
	return io.MultiReader(
		strings.NewReader(`{"schema":"gorigin.snapshot/v1","source":{"kind":"dump"},"goroutines":[`),
		strings.NewReader(strings.Repeat(`{"status":"idle"},`, n)),
		strings.NewReader(`{"status":"idle"}]}`))
}

// TestDecodeBudget: a document whose goroutines would keep more than the budget is
// refused with ErrTooLarge, having allocated a small multiple of the budget (they are
// decoded one at a time, not after reading the whole document); a real snapshot of the
// same goroutines under the budget decodes.
func TestDecodeBudget(t *testing.T) {
	const budget = 4 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := decode(tinyGoroutines(1_000_000), budget) // 18 MB of JSON
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("decode of a million tiny goroutines under a %d MB budget: %v, want ErrTooLarge", budget>>20, err)
	}
	// Most of what is allocated is the decoder's garbage, collected as it goes; the bound
	// is that it stops near the budget, not after the whole document.
	if used := after.TotalAlloc - before.TotalAlloc; used > 16*budget {
		t.Errorf("refusing it allocated %d MB", used>>20)
	}
	var doc bytes.Buffer
	s := &Snapshot{Schema: Schema, Source: Source{Kind: "live", Pid: 7}}
	for i := range 5000 {
		s.Goroutines = append(s.Goroutines, Goroutine{ID: int64(i + 1), Status: "waiting", WaitReason: "chan receive",
			Origin: &Location{Func: "main.main", File: "/src/main.go", Line: 12},
			Frames: []Location{{Func: fmt.Sprintf("main.worker%d", i%10), File: "/src/main.go", Line: 30}}})
	}
	if err := Encode(&doc, s); err != nil {
		t.Fatal(err)
	}
	back, err := decode(&doc, budget)
	if err != nil {
		t.Fatalf("a real snapshot of 5,000 goroutines: %v", err)
	}
	if len(back.Goroutines) != 5000 || back.Goroutines[4999].Frames[0].Func != "main.worker9" {
		t.Fatalf("decoded %d goroutines, the last %+v", len(back.Goroutines), back.Goroutines[len(back.Goroutines)-1])
	}
	// Goroutines of the same stack and go statement share them, as a text dump's do.
	a, b := back.Goroutines[3], back.Goroutines[4993]
	if &a.Frames[0] != &b.Frames[0] || a.Origin != b.Origin {
		t.Errorf("goroutines 4 and 4994 hold their stacks and origins each")
	}
}

// TestDecodeKeepsEncodingJSONRules: the field-by-field decoder reads what encoding/json
// read before it: names in any case, unknown fields skipped, "goroutines": null.
func TestDecodeKeepsEncodingJSONRules(t *testing.T) {
	s, err := Decode(strings.NewReader(`{"Schema":"gorigin.snapshot/v1","future":[1,{"a":2}],"SOURCE":{"kind":"core"},"goroutines":[{"status":"running","id":3}],"warnings":["w"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Source.Kind != "core" || len(s.Goroutines) != 1 || s.Goroutines[0].ID != 3 || len(s.Warnings) != 1 {
		t.Errorf("decoded %+v", s)
	}
	if s, err := Decode(strings.NewReader(`{"schema":"gorigin.snapshot/v1","source":{"kind":"dump"},"goroutines":null}`)); err != nil || len(s.Goroutines) != 0 {
		t.Errorf("goroutines null: %v, %v", s, err)
	}
	for _, bad := range []string{`[]`, `{"schema":"gorigin.snapshot/v1","goroutines":{}}`, `{"schema":"gorigin.snapshot/v1"`} {
		if _, err := Decode(strings.NewReader(bad)); err == nil {
			t.Errorf("Decode(%s) accepted it", bad)
		}
	}
}
