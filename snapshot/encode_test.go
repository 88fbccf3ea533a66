package snapshot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

// stdGoroutine is the oracle: encoding/json's encoding of g, as Encode wrote each
// goroutine before it had an encoder of its own (HTML escaping off, no newline).
func stdGoroutine(t testing.TB, g *Goroutine) ([]byte, error) {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(g); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// checkSameAsStd fails unless appendGoroutine writes g byte for byte as encoding/json
// does, or both refuse it.
func checkSameAsStd(t testing.TB, g *Goroutine) {
	t.Helper()
	want, werr := stdGoroutine(t, g)
	var e encoder
	got, gerr := e.appendGoroutine(nil, g)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("encoding/json error %v, appendGoroutine error %v for %#v", werr, gerr, g)
	}
	if werr != nil {
		return
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("appendGoroutine differs from encoding/json for %#v:\n got %s\nwant %s", g, got, want)
	}
	if !json.Valid(got) {
		t.Fatalf("appendGoroutine wrote invalid JSON: %q", got)
	}
}

// hostile are strings that stress the escaping: every control character, quotes and
// backslashes, HTML characters (not escaped, as Encode never escaped them), invalid and
// truncated UTF-8, surrogate halves, U+2028/U+2029, U+FFFD itself and DEL.
var hostile = []string{
	"", "plain", `"quoted"`, `back\slash`, "\x00\x01\x07\x08\x09\x0a\x0b\x0c\x0d\x1b\x1f\x7f",
	"<script>&amp;</script>", "\xff\xfe", "ok\xc3", "\xed\xa0\x80", "\u2028\u2029", "\ufffd",
	"日本語 🚀", "a\u2028b\xe2\x80", "\x1b[31mred\x1b[0m", strings.Repeat("\\\"", 40),
}

func TestAppendGoroutineMatchesEncodingJSON(t *testing.T) {
	gs := []Goroutine{{}, full().Goroutines[0], {Status: "running", System: true}}
	for _, s := range hostile {
		l := &Location{Func: s, File: s, Line: -3, PC: s, Inlined: true}
		gs = append(gs, Goroutine{
			ID: -1, ParentID: math.MaxInt64, Status: Status(s), WaitReason: s, Origin: l, Start: &Location{Func: s},
			Frames: []Location{*l, {}, {Func: s, Line: 1}}, StackBytes: math.MinInt64,
			Labels: map[string]string{s: s, s + "z": "", "": s, "a" + s: "b"}, Leak: Verdict(s), Changed: true,
		})
	}
	for _, f := range []float64{1, -1, 0.5, 1e-6, 9.99e-7, 1e-7, 1.5e-300, 1e20, 1e21, 123456789.123456789,
		math.SmallestNonzeroFloat64, math.MaxFloat64, -1e-9, 312.5, 5e-324, math.NaN(), math.Inf(1), math.Inf(-1)} {
		gs = append(gs, Goroutine{Status: StatusWaiting, WaitSeconds: f})
	}
	for i := range gs {
		checkSameAsStd(t, &gs[i])
	}
}

// TestEncodeSameDocumentAsBefore encodes a whole snapshot with Encode and with the
// encoding/json path it replaced, and compares the documents byte for byte.
func TestEncodeSameDocumentAsBefore(t *testing.T) {
	s := full()
	for _, h := range hostile {
		s.Goroutines = append(s.Goroutines, Goroutine{ID: int64(len(s.Goroutines) + 100), Status: StatusWaiting,
			WaitReason: h, Origin: &Location{Func: h, File: h, Line: 7}, Labels: map[string]string{h: h}})
	}
	// Shared locations, as sources make them: more than the encoder keeps encoded, in
	// runs and interleaved, so that its cache is hit, missed and overwritten.
	var shared []*Location
	for i := range 7 {
		shared = append(shared, &Location{Func: hostile[i], File: "/src/f.go", Line: i})
	}
	for i := range 200 {
		s.Goroutines = append(s.Goroutines, Goroutine{ID: int64(1000 + i), Status: StatusRunnable,
			Origin: shared[(i/10)%7], Start: shared[(i*3)%7]})
	}
	var got bytes.Buffer
	if err := Encode(&got, s); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	w := bufio.NewWriter(&want)
	src, _ := json.MarshalIndent(s.Source, "  ", "  ")
	w.WriteString("{\n  \"schema\": \"" + Schema + "\",\n  \"source\": " + string(src) + ",\n  \"goroutines\": [")
	for i := range s.Goroutines {
		g, err := stdGoroutine(t, &s.Goroutines[i])
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString("\n    ")
		w.Write(g)
	}
	ws, _ := json.Marshal(s.Warnings)
	w.WriteString("\n  ],\n  \"warnings\": " + string(ws) + "\n}\n")
	w.Flush()
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("Encode's document differs from encoding/json's:\n got %s\nwant %s", got.Bytes(), want.Bytes())
	}
	if _, err := Decode(&got); err != nil {
		t.Errorf("Decode of Encode's document: %v", err)
	}
}

func TestEncodeRefusesNaN(t *testing.T) {
	s := &Snapshot{Source: Source{Kind: KindDump}, Goroutines: []Goroutine{{ID: 1, Status: StatusWaiting, WaitSeconds: math.NaN()}}}
	if err := Encode(new(bytes.Buffer), s); err == nil || !strings.Contains(err.Error(), "goroutine 1") {
		t.Errorf("Encode of a NaN wait: error %v, want one naming goroutine 1", err)
	}
}

func FuzzAppendGoroutine(f *testing.F) {
	for _, h := range hostile {
		f.Add(h, h, int64(1), int64(2), 0.5, 3, true)
	}
	f.Fuzz(func(t *testing.T, a, b string, id, parent int64, wait float64, line int, flag bool) {
		l := Location{Func: a, File: b, Line: line, PC: a + b, Inlined: flag}
		g := Goroutine{ID: id, ParentID: parent, Status: Status(a), WaitReason: b, WaitSeconds: wait,
			Origin: &l, Start: &Location{Func: b}, Frames: []Location{l, {Func: b, Line: line}},
			StackBytes: id ^ parent, Labels: map[string]string{a: b, b: a}, System: flag, LockedToThread: !flag,
			Changed: flag, Leak: Verdict(b)}
		checkSameAsStd(t, &g)
		if !utf8.ValidString(a) {
			return
		}
		// Valid UTF-8 round-trips exactly.
		var e encoder
		out, err := e.appendGoroutine(nil, &g)
		if err != nil {
			return
		}
		var back Goroutine
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("unmarshal %q: %v", out, err)
		}
		if back.WaitReason != g.WaitReason && utf8.ValidString(b) {
			t.Fatalf("wait reason %q came back as %q", g.WaitReason, back.WaitReason)
		}
		if back.Origin.Func != a {
			t.Fatalf("func %q came back as %q", a, back.Origin.Func)
		}
	})
}
