package oracle

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The samples under testdata are real /debug/pprof/goroutine?debug=2 output of the
// integration fixture (one goroutine per distinct header and origin kept), captured
// from builds by each toolchain; the go1.22 and go1.24 ones were built with -trimpath.
func TestParseSamples(t *testing.T) {
	locked := func(id int64, file string, line, createdLine int, parent int64) Goroutine {
		return Goroutine{
			ID: id, Status: "chan receive", LockedToThread: true,
			Frames:    []Frame{{Func: "main.spawnAll.func5", File: file, Line: line}},
			CreatedBy: &Frame{Func: "main.spawnAll", File: file, Line: createdLine},
			ParentID:  parent,
		}
	}
	const abs = "/work/main/integration/testdata/fixture/spawn.go"
	const trimmed = "gorigin.test/fixture/spawn.go"
	labels := map[string]string{"task": "labeled", "tenant": "a b"}
	tests := []struct {
		file         string
		goroutines   int
		createdBy    int // goroutines with a created-by line
		withParent   int // of those, with "in goroutine P"
		locked       Goroutine
		labeledID    int64
		labels       map[string]string // of goroutine labeledID; nil: not shown
		statusCounts map[string]int    // a few header states and how often they occur
	}{
		{
			file: "debug2-go1.20.txt", goroutines: 25, createdBy: 24, withParent: 0,
			locked:       locked(51, abs, 97, 94, 0),
			statusCounts: map[string]int{"running": 1, "semacquire": 1, "syscall": 3, "IO wait": 1, "select (no cases)": 1},
		},
		{
			file: "debug2-go1.22.txt", goroutines: 24, createdBy: 23, withParent: 22,
			locked:       locked(66, trimmed, 97, 94, 1),
			statusCounts: map[string]int{"running": 1, "semacquire": 1, "syscall": 3, "sync.Cond.Wait": 1},
		},
		{
			file: "debug2-go1.24.txt", goroutines: 24, createdBy: 23, withParent: 22,
			locked:       locked(64, trimmed, 97, 94, 1),
			statusCounts: map[string]int{"running": 1, "sync.Mutex.Lock": 1, "syscall": 2, "chan send": 1},
		},
		{
			file: "debug2-go1.26.txt", goroutines: 25, createdBy: 24, withParent: 23,
			locked:    locked(64, abs, 97, 94, 1),
			labeledID: 55, labels: labels,
			statusCounts: map[string]int{"running": 1, "syscall": 3, "runnable": 2, "sync.WaitGroup.Wait": 1},
		},
		{
			file: "debug2-go1.27.txt", goroutines: 24, createdBy: 23, withParent: 22,
			locked:    locked(65, abs, 97, 94, 1),
			labeledID: 56, labels: labels,
			statusCounts: map[string]int{"running": 1, "syscall": 2, "runnable": 2, "sync.WaitGroup.Wait": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			text, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			gs, err := ParseBytes(text)
			if err != nil {
				t.Fatal(err)
			}
			if len(gs) != tt.goroutines {
				t.Fatalf("parsed %d goroutines, want %d", len(gs), tt.goroutines)
			}
			byID := map[int64]Goroutine{}
			created, parents, fileLines := 0, 0, 0
			statuses := map[string]int{}
			for _, g := range gs {
				byID[g.ID] = g
				statuses[g.Status]++
				if g.CreatedBy != nil {
					created++
					fileLines++
				}
				if g.ParentID != 0 {
					parents++
				}
				fileLines += len(g.Frames)
				if g.StartFunc() == "" {
					t.Errorf("goroutine %d: no start function", g.ID)
				}
			}
			if created != tt.createdBy || parents != tt.withParent {
				t.Errorf("%d created-by lines, %d with a parent; want %d, %d", created, parents, tt.createdBy, tt.withParent)
			}
			// Every tab-indented line is a frame's or a created-by's file:line.
			if want := strings.Count(string(text), "\n\t"); fileLines != want {
				t.Errorf("parsed %d file:line lines, the text has %d", fileLines, want)
			}
			if g := byID[tt.locked.ID]; !reflect.DeepEqual(g, tt.locked) {
				t.Errorf("locked goroutine:\n got %+v\nwant %+v", g, tt.locked)
			}
			for _, g := range gs {
				want := map[string]string(nil)
				if g.ID == tt.labeledID {
					want = tt.labels
				}
				if !reflect.DeepEqual(g.Labels, want) {
					t.Errorf("goroutine %d: labels %v, want %v", g.ID, g.Labels, want)
				}
			}
			for st, n := range tt.statusCounts {
				if statuses[st] != n {
					t.Errorf("%d goroutines %q, want %d (all: %v)", statuses[st], st, n, statuses)
				}
			}
			if g := byID[1]; g.CreatedBy != nil || g.StartFunc() != "main.main" {
				t.Errorf("main goroutine: created by %v, start %q; want none, main.main", g.CreatedBy, g.StartFunc())
			}
		})
	}
}

// Header lines as the runtime's goroutineheader prints them, Go 1.20 to 1.27.
func TestParseHeader(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   Goroutine
	}{
		{"running", "goroutine 1 [running]:", Goroutine{ID: 1, Status: "running"}},
		{"wait reason with parentheses", "goroutine 7 [select (no cases)]:", Goroutine{ID: 7, Status: "select (no cases)"}},
		{"minutes", "goroutine 12 [chan receive, 42 minutes]:", Goroutine{ID: 12, Status: "chan receive", WaitMinutes: 42}},
		{"minutes and locked", "goroutine 5 [syscall, 3 minutes, locked to thread]:",
			Goroutine{ID: 5, Status: "syscall", WaitMinutes: 3, LockedToThread: true}},
		{"scan bit", "goroutine 9 [runnable (scan)]:", Goroutine{ID: 9, Status: "runnable", Scan: true}},
		{"crash header 1.22+", "goroutine 3 gp=0xc000007c00 m=4 mp=0xc000100008 [running]:", Goroutine{ID: 3, Status: "running"}},
		{"crash header no m", "goroutine 3 gp=0xc000007c00 m=nil [GC worker (idle)]:", Goroutine{ID: 3, Status: "GC worker (idle)"}},
		{"synctest group 1.24", "goroutine 8 [chan receive, synctest group 6]:", Goroutine{ID: 8, Status: "chan receive", Bubble: 6}},
		{"synctest bubble 1.26", "goroutine 8 [sleep (durable), synctest bubble 2]:", Goroutine{ID: 8, Status: "sleep (durable)", Bubble: 2}},
		{"leaked 1.27", "goroutine 44 [chan send (leaked), 2 minutes]:", Goroutine{ID: 44, Status: "chan send", Leaked: true, WaitMinutes: 2}},
		{"leaked and scan 1.27", "goroutine 44 [chan send (leaked) (scan)]:", Goroutine{ID: 44, Status: "chan send", Leaked: true, Scan: true}},
		{"labels 1.26", `goroutine 20 [select, locked to thread labels:{"k": "v, w", "a b": "]"}]:`,
			Goroutine{ID: 20, Status: "select", LockedToThread: true, Labels: map[string]string{"k": "v, w", "a b": "]"}}},
		{"labels 1.27", `goroutine 20 [IO wait, 1 minutes] {k: v, path: a/b.c_d, "x y": "\"}\"", e: }:`,
			Goroutine{ID: 20, Status: "IO wait", WaitMinutes: 1, Labels: map[string]string{"k": "v", "path": "a/b.c_d", "x y": `"}"`, "e": ""}}},
		{"labels 1.27 with bracket", `goroutine 2 [sleep] {k: "a] {b"}:`,
			Goroutine{ID: 2, Status: "sleep", Labels: map[string]string{"k": "a] {b"}}},
		{"labels escapes", `goroutine 2 [sleep] {k: "\xff\u00e9\t"}:`,
			Goroutine{ID: 2, Status: "sleep", Labels: map[string]string{"k": "\xffé\t"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gs, err := Parse(strings.NewReader(tt.header + "\nmain.f()\n\t/a.go:1 +0x1\n"))
			if err != nil {
				t.Fatal(err)
			}
			if len(gs) != 1 {
				t.Fatalf("%d goroutines, want 1", len(gs))
			}
			got := gs[0]
			got.Frames = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseBlocks(t *testing.T) {
	text := `goroutine 1 [running]:
main.main()
	/src/main.go:10 +0x1d

goroutine 6 [running]:
	goroutine running on other thread; stack unavailable
created by main.main in goroutine 1
	/src/main.go:8 +0x25

[originating from goroutine 6]:
main.old(...)
	/src/main.go:3 +0x1

goroutine 17 [chan receive]:
main.deep(...)
	/src/deep.go:5
...additional frames elided...
created by main.(*T).start in goroutine 6
	/src/deep.go:20 +0x40
goroutine 18 [syscall]:
runtime.cgocall(0x401000, 0xc000050f00)
	/go/src/runtime/cgocall.go:157 +0x4b fp=0xc000050ee8 sp=0xc000050eb0 pc=0x40512b
non-Go function at pc=0x7f00aa
main.f[...]()
	main.go:3
created by main.g[...]
	/src/x.go:4
`
	gs, err := Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []Goroutine{
		{ID: 1, Status: "running", Frames: []Frame{{Func: "main.main", File: "/src/main.go", Line: 10}}},
		{ID: 6, Status: "running", StackUnavailable: true,
			CreatedBy: &Frame{Func: "main.main", File: "/src/main.go", Line: 8}, ParentID: 1},
		{ID: 17, Status: "chan receive", Truncated: true,
			Frames:    []Frame{{Func: "main.deep", File: "/src/deep.go", Line: 5, Inlined: true}},
			CreatedBy: &Frame{Func: "main.(*T).start", File: "/src/deep.go", Line: 20}, ParentID: 6},
		{ID: 18, Status: "syscall", Frames: []Frame{
			{Func: "runtime.cgocall", File: "/go/src/runtime/cgocall.go", Line: 157},
			{Func: "non-Go function at pc=0x7f00aa"},
			{Func: "main.f[...]", File: "main.go", Line: 3},
		}, CreatedBy: &Frame{Func: "main.g[...]", File: "/src/x.go", Line: 4}},
	}
	if !reflect.DeepEqual(gs, want) {
		t.Errorf("got\n%+v\nwant\n%+v", gs, want)
	}
	if s := gs[2].StartFunc(); s != "" {
		t.Errorf("truncated goroutine: start %q, want none", s)
	}
	if s := gs[3].StartFunc(); s != "main.f[...]" {
		t.Errorf("start %q, want main.f[...]", s)
	}
}

// The parser is strict: what it does not know is an error, never skipped.
func TestParseRejects(t *testing.T) {
	tests := map[string]string{
		"text before a header":    "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/a.go:1\n",
		"header without colon":    "goroutine 1 [running]\n",
		"header without state":    "goroutine 1 []:\n",
		"unknown header field":    "goroutine 1 [running, on fire]:\n",
		"function without file":   "goroutine 1 [running]:\nmain.main()\n",
		"file without function":   "goroutine 1 [running]:\n\t/a.go:1 +0x1\n",
		"created by without file": "goroutine 2 [sleep]:\nmain.f()\n\t/a.go:1\ncreated by main.main\n",
		"frame after created by":  "goroutine 2 [sleep]:\ncreated by main.main\n\t/a.go:1\nmain.f()\n\t/a.go:2\n",
		"bad file line":           "goroutine 1 [running]:\nmain.main()\n\t/a.go +0x1\n",
		"bad label":               "goroutine 1 [running] {k v}:\n",
		"unterminated label":      `goroutine 1 [running] {k: "v}:` + "\n",
		"labels twice":            `goroutine 1 [running labels:{"a": "b"}] {c: d}:` + "\n",
		"huge goroutine id":       "goroutine 99999999999999999999 [running]:\n",
	}
	for name, text := range tests {
		t.Run(name, func(t *testing.T) {
			if gs, err := Parse(strings.NewReader(text)); err == nil {
				t.Errorf("parsed %+v, want an error", gs)
			}
		})
	}
}

func TestPrintName(t *testing.T) {
	tests := map[string]string{
		"main.main":                                  "main.main",
		"main.spawnGeneric[go.shape.string]":         "main.spawnGeneric[...]",
		"main.(*List[go.shape.int]).Push":            "main.(*List[...]).Push",
		"main.F[go.shape.int,go.shape.string].func1": "main.F[...].func1",
		"main.spawnGeneric[...]":                     "main.spawnGeneric[...]",
		"weird]name[":                                "weird]name[",
	}
	for in, want := range tests {
		if got := PrintName(in); got != want {
			t.Errorf("PrintName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("goroutine 1 [running] {k: \"v\"}:\ncreated by x in goroutine 2\n\t/a:1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		gs, err := ParseBytes(b)
		if err != nil {
			return
		}
		for _, g := range gs {
			if g.Status == "" {
				t.Errorf("goroutine %d parsed with an empty status", g.ID)
			}
		}
	})
}
