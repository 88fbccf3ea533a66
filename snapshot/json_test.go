package snapshot

import (
	"bytes"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// full is a snapshot with every field set.
func full() *Snapshot {
	return &Snapshot{
		Schema: Schema,
		Source: Source{Kind: "live", Backend: "native", Pid: 4242, Exe: "/srv/api", GoVersion: "go1.26.8",
			TakenAt: time.Date(2026, 11, 27, 6, 0, 0, 123456789, time.UTC), FreezeMicros: 850, Freeze: "always", Partial: true, File: "/tmp/core.4242"},
		Goroutines: []Goroutine{{
			ID: 17, ParentID: 1, Status: "waiting", WaitReason: "chan receive", WaitSeconds: 312.5,
			Origin:         &Location{Func: "main.serve", File: "/src/app/main.go", Line: 42, PC: "0x4a1b2c"},
			Start:          &Location{Func: "main.worker", File: "/src/app/worker.go", Line: 10, PC: "0x4a0000"},
			Frames:         []Location{{Func: "main.worker", File: "/src/app/worker.go", Line: 19, PC: "0x4a0010", Inlined: true}},
			StackBytes:     8192,
			Labels:         map[string]string{"tenant": "a"},
			System:         true,
			LockedToThread: true,
			Changed:        true,
			Leak:           "leaked",
		}},
		Warnings: []string{"3 goroutines changed during the read"},
	}
}

func TestJSONRoundTrip(t *testing.T) {
	in := full()
	var buf bytes.Buffer
	if err := Encode(&buf, in); err != nil {
		t.Fatal(err)
	}
	out, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip changed the snapshot:\n got %+v\nwant %+v", out, in)
	}
}

func TestJSONOmitsUnknownFields(t *testing.T) {
	s := &Snapshot{Source: Source{Kind: "dump", Backend: "text"}, Goroutines: []Goroutine{{Status: "running"}}}
	var buf bytes.Buffer
	if err := Encode(&buf, s); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, field := range []string{`"id"`, `"parentId"`, `"waitReason"`, `"waitSeconds"`, `"origin"`, `"start"`, `"frames"`, `"stackBytes"`, `"labels"`, `"leak"`, `"pid"`, `"exe"`, `"file"`, `"warnings"`} {
		if strings.Contains(text, field) {
			t.Errorf("JSON has %s for a field the source did not know:\n%s", field, text)
		}
	}
	if !strings.Contains(text, `"schema": "`+Schema+`"`) {
		t.Errorf("Encode did not set the schema:\n%s", text)
	}
	if s.Schema != "" {
		t.Errorf("Encode modified its input's schema to %q", s.Schema)
	}
	if !strings.Contains(text, "\n  \"source\"") {
		t.Errorf("JSON is not indented:\n%s", text)
	}
	out, err := Decode(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	s.Schema = Schema
	if !reflect.DeepEqual(out, s) {
		t.Errorf("round trip of a sparse snapshot:\n got %+v\nwant %+v", out, s)
	}
}

func TestEncodeEmptyGoroutines(t *testing.T) {
	var buf bytes.Buffer
	if err := Encode(&buf, &Snapshot{Source: Source{Kind: "core"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"goroutines": []`) {
		t.Errorf("no goroutines should encode as [], got:\n%s", buf.String())
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"missing schema says what it expected", `{"source":{"kind":"live"},"goroutines":[]}`, `no "schema" field: want "gorigin.snapshot/v1"`},
		{"wrong schema says what it expected", `{"schema":"gorigin.snapshot/v2","source":{"kind":"live"},"goroutines":[]}`, `schema "gorigin.snapshot/v2" is not supported: this gorigin reads "gorigin.snapshot/v1"`},
		{"invalid snapshot fails Validate", `{"schema":"gorigin.snapshot/v1","source":{"kind":"live"},"goroutines":[{"status":"sleeping"}]}`, `unknown status "sleeping"`},
		{"duplicate ids fail Validate", `{"schema":"gorigin.snapshot/v1","source":{"kind":"live"},"goroutines":[{"id":1,"status":"running"},{"id":1,"status":"running"}]}`, "appears twice"},
		{"not JSON", `goroutine 1 [running]:`, "not a JSON snapshot"},
		{"empty input", ``, "empty input"},
		{"truncated", `{"schema":"gorigin.snapshot/v1","source":{"kind":"li`, "not a JSON snapshot"},
		{"trailing data", `{"schema":"gorigin.snapshot/v1","source":{"kind":"live"},"goroutines":[]} {}`, "data after the snapshot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Decode(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode = %v, %v; want an error containing %q", s, err, tt.want)
			}
		})
	}
}

// FuzzDecode checks that no input makes Decode panic, and that whatever it accepts
// re-encodes stably: encoding, decoding and encoding again gives the same text.
func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	if err := Encode(&buf, full()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"schema":"gorigin.snapshot/v1","source":{"kind":"dump"},"goroutines":[{"status":"running","frames":[{}],"labels":{}}]}`))
	f.Add([]byte(`{"schema":"gorigin.snapshot/v1","source":{"kind":"core","takenAt":"2026-01-02T03:04:05+02:00"},"goroutines":null}`))
	f.Add([]byte(`{"schema":"gorigin.snapshot/v1","source":{"kind":"dump"},"goroutines":[` + strings.Repeat(`{"status":"idle","frames":[{},{}]},`, 500) + `{"status":"idle"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		// What Decode may allocate: fixed buffers, and per input byte a small multiple (a
		// 3-byte frame "{}," is a 64-byte Location), never the document twice over.
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s, err := Decode(bytes.NewReader(data))
		runtime.ReadMemStats(&after)
		if used, limit := after.TotalAlloc-before.TotalAlloc, uint64(1<<20+128*len(data)); used > limit {
			t.Fatalf("Decode of %d bytes allocated %d (limit %d)", len(data), used, limit)
		}
		if err != nil {
			return
		}
		var once, twice bytes.Buffer
		if err := Encode(&once, s); err != nil {
			t.Fatalf("Encode of a decoded snapshot: %v", err)
		}
		back, err := Decode(bytes.NewReader(once.Bytes()))
		if err != nil {
			t.Fatalf("Decode of a re-encoded snapshot: %v\n%s", err, once.Bytes())
		}
		if err := Encode(&twice, back); err != nil {
			t.Fatal(err)
		}
		if once.String() != twice.String() {
			t.Fatalf("re-encoding is not stable:\n%s\nvs\n%s", once.String(), twice.String())
		}
	})
}
