package dump

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/gorigin-dev/gorigin/snapshot"
)

func TestJSONSnapshotIsASource(t *testing.T) {
	orig, err := Parse(strings.NewReader(recvBlock), Options{File: "x.txt"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := snapshot.Encode(&buf, orig); err != nil {
		t.Fatal(err)
	}
	s, err := Parse(&buf, Options{File: "saved.json"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Source.File != "x.txt" || len(s.Goroutines) != 1 {
		t.Errorf("the saved snapshot came back as %+v", s)
	}
	recv5.check(t, s.Goroutines[0])
}

func TestDebug0(t *testing.T) {
	fn := func(id uint64, name, file string) *profile.Function {
		return &profile.Function{ID: id, Name: name, SystemName: name, Filename: file}
	}
	park, recv, main := fn(1, "runtime.gopark", "/go/src/runtime/proc.go"), fn(2, "main.blockRecv", "/src/spawn.go"), fn(3, "main.worker", "/src/worker.go")
	locs := []*profile.Location{
		{ID: 1, Address: 0x10, Line: []profile.Line{{Function: park, Line: 435}}},
		// An inlined call: blockRecv inside worker, innermost first.
		{ID: 2, Address: 0x20, Line: []profile.Line{{Function: recv, Line: 133}, {Function: main, Line: 19}}},
	}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "goroutine", Unit: "count"}},
		PeriodType: &profile.ValueType{Type: "goroutine", Unit: "count"},
		Period:     1,
		TimeNanos:  time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC).UnixNano(),
		Function:   []*profile.Function{park, recv, main},
		Location:   locs,
		Sample: []*profile.Sample{
			{Location: locs, Value: []int64{4}},
			{Location: locs, Value: []int64{2}, Label: map[string][]string{"tenant": {"a b"}}},
		},
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	s, err := Parse(&buf, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Goroutines) != 6 || len(s.Warnings) != 1 || s.Warnings[0] != Debug0Warning {
		t.Fatalf("%d goroutines, warnings %q: want 6 and the debug=0 warning", len(s.Goroutines), s.Warnings)
	}
	if !s.Source.TakenAt.Equal(time.Unix(0, p.TimeNanos)) {
		t.Errorf("taken at %v, want the profile's time", s.Source.TakenAt)
	}
	for i, g := range s.Goroutines {
		w := want{status: "unknown", start: "main.worker", frames: 3}
		if i >= 4 {
			w.labels = map[string]string{"tenant": "a b"}
		}
		w.check(t, g)
		if !g.Frames[1].Inlined || g.Frames[2].Inlined || g.Frames[1].Func != "main.blockRecv" {
			t.Errorf("frames %+v: want blockRecv inlined into worker", g.Frames)
		}
	}
}

func TestOverlongLines(t *testing.T) {
	text := "noise " + strings.Repeat("x", 3*maxLine) + "\n" + recvBlock
	s, err := Parse(strings.NewReader(text), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Goroutines) != 1 || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "cut") {
		t.Fatalf("%d goroutines, warnings %q: want 1 and a cut line", len(s.Goroutines), s.Warnings)
	}
	recv5.check(t, s.Goroutines[0])
}
