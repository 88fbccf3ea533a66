package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files with the current output")

func TestTextGolden(t *testing.T) {
	partial := apiServer()
	partial.Source.Freeze, partial.Source.FreezeMicros, partial.Source.Partial = "never", 0, true
	partial.Warnings = []string{"the traceback of every goroutine exceeds 64 MiB; the goroutines past that are missing", "17 goroutines changed during the read (marked changed)"}
	core := apiServer()
	core.Source.Kind, core.Source.File = "core", "/var/crash/core.4242"
	key := func(s string) snapshot.Key {
		k, err := snapshot.ParseKey(s)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	tests := []struct {
		name string
		s    *snapshot.Snapshot
		opt  TextOptions
		by   snapshot.Key
	}{
		{"default", apiServer(), TextOptions{SystemHidden: 12}, snapshot.Key{}},
		{"verbose", apiServer(), TextOptions{Verbose: true}, snapshot.Key{}},
		{"top", apiServer(), TextOptions{Top: 2, SystemHidden: 1}, snapshot.Key{}},
		{"by_wait", apiServer(), TextOptions{}, key("wait")},
		{"by_start", apiServer(), TextOptions{}, key("start")},
		{"by_location", apiServer(), TextOptions{}, key("location")},
		{"by_label", apiServer(), TextOptions{}, key("label:tenant")},
		{"by_parent", apiServer(), TextOptions{}, key("parent")},
		{"width", apiServer(), TextOptions{Width: 80}, snapshot.Key{}},
		{"partial_not_frozen", partial, TextOptions{}, snapshot.Key{}},
		{"core", core, TextOptions{Top: 1}, snapshot.Key{}},
		{"dump_missing_fields", textDump(), TextOptions{}, snapshot.Key{}},
		{"dump_missing_fields_verbose", textDump(), TextOptions{Verbose: true}, snapshot.Key{}},
		{"dump_by_location", textDump(), TextOptions{}, key("location")},
		{"empty", &snapshot.Snapshot{Schema: snapshot.Schema, Source: snapshot.Source{Kind: "dump", Backend: "text"}}, TextOptions{}, snapshot.Key{}},
		{"color", apiServer(), TextOptions{Color: true, SystemHidden: 12, Top: 4}, snapshot.Key{}},
		{"color_width_verbose", partial, TextOptions{Color: true, Width: 100, Verbose: true, Top: 2}, snapshot.Key{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.s.Validate(); err != nil {
				t.Fatalf("bad fixture: %v", err)
			}
			grouped := snapshot.GroupSnapshot(tt.s, tt.by)
			var buf bytes.Buffer
			if err := Text(&buf, grouped, tt.opt); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./report -update to create it)", err)
			}
			if got := buf.String(); got != string(want) {
				t.Errorf("Text output differs from %s (go test ./report -update rewrites it):\n--- got\n%s--- want\n%s", golden, got, want)
			}
			// Colour only adds escape sequences: the same table with them removed is the
			// table without colour, byte for byte.
			flipped := tt.opt
			flipped.Color = !tt.opt.Color
			var other bytes.Buffer
			if err := Text(&other, grouped, flipped); err != nil {
				t.Fatal(err)
			}
			colored, plainText := buf.String(), other.String()
			if !tt.opt.Color {
				colored, plainText = plainText, colored
			}
			if !strings.Contains(colored, "\x1b[") && len(grouped.Groups()) > 0 {
				t.Errorf("Color: true wrote no escape sequence:\n%s", colored)
			}
			if strings.Contains(plainText, "\x1b") {
				t.Errorf("Color: false wrote an escape sequence:\n%q", plainText)
			}
			if got := stripSGR(colored); got != plainText {
				t.Errorf("the coloured table without its escapes differs from the plain one:\n--- stripped\n%s--- plain\n%s", got, plainText)
			}
		})
	}
}

// TestTextFacts checks, independently of the golden files, the facts a reader relies on.
func TestTextFacts(t *testing.T) {
	s := apiServer()
	var buf bytes.Buffer
	if err := Text(&buf, snapshot.GroupSnapshot(s, snapshot.Key{}), TextOptions{SystemHidden: 12}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(out, "\n")
	if want := "pid 4242  ./api-server  go1.26.8  2,047 goroutines  frozen 1.1 ms"; lines[0] != want {
		t.Errorf("header %q, want %q", lines[0], want)
	}
	for _, want := range []string{
		"1,993  chan receive +3 running  main.main  main.go:94", // counts with thousands separators; the shortest unique path
		"main.blockRecv",
		"15.6M  18 19 20 103 104",                                       // 1,993 × 8K; the five smallest ids
		"select +3 other",                                               // 8 select, 2 IO wait, 1 running
		"main.startGoRoutine  spawn.go:8", "main.worker", "main.poller", // the spawn helper's two tasks stay apart
		"2d4h", "3h12m", "14m",
		"(+12 system goroutines not shown: --system)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got := strings.Count(out, "main.startGoRoutine"); got != 2 {
		t.Errorf("the spawn helper appears in %d rows, want 2 (one per start function):\n%s", got, out)
	}
}

func TestTextWidthFits(t *testing.T) {
	for _, width := range []int{60, 80, 100, 120} {
		s := apiServer()
		s.Source.Exe = "/home/dev/go/src/github.com/acme/api/build/linux_amd64/release/api-server"
		var buf bytes.Buffer
		if err := Text(&buf, snapshot.GroupSnapshot(s, snapshot.Key{}), TextOptions{Width: width, SystemHidden: 1}); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
		for i, line := range lines {
			if runes(line) > width {
				t.Errorf("--width %d: line %d is %d runes wide: %q", width, i, runes(line), line)
			}
		}
		if !strings.HasSuffix(strings.Fields(lines[0])[2], "/api-server") {
			t.Errorf("--width %d: the header lost the executable's name: %q", width, lines[0])
		}
		head := 1
		if width < 70 {
			head = 2 // the header wraps between its parts
		}
		if len(lines) != head+1+5+1 {
			t.Errorf("--width %d: %d lines, want header, column heads, 5 groups and the system line", width, len(lines))
		}
	}
}

// sgrSeq is an ANSI SGR escape sequence, as a terminal parses it.
var sgrSeq = regexp.MustCompile("\x1b\\[[0-9;]*m")

func stripSGR(s string) string { return sgrSeq.ReplaceAllString(s, "") }
