package report

import (
	"strings"
	"testing"
)

func TestFitFunc(t *testing.T) {
	tests := []struct {
		fn   string
		n    int
		want string
	}{
		{"main.main", 20, "main.main"},                                       // fits: untouched
		{"server.(*server).serve.func1", 28, "server.(*server).serve.func1"}, // exactly fits
		{"server.(*server).serve.func1", 27, "server.…serve.func1"},          // middle elided, whole elements kept
		{"server.(*server).serve.func1", 13, "server.…func1"},
		{"server.(*server).serve.func1", 12, "…serve.func1"}, // no room for the package: the end
		{"server.(*server).serve.func1", 6, "…func1"},
		{"server.(*server).serve.func1", 4, "…nc1"}, // not even the last element: its end
		{"main.blockRecv", 12, "…blockRecv"},
		{"p.Map[...].Get", 11, "p.…Get"},
		{"cache.(*Shard[...]).evictLoop", 25, "cache.…evictLoop"}, // no dot inside brackets splits
		{"p.(a.b).c", 6, "p.…c"},
		{"x", 1, "x"},
		{"main.main", 1, "…"},
	}
	for _, tt := range tests {
		got := fitFunc(tt.fn, tt.n)
		if got != tt.want {
			t.Errorf("fitFunc(%q, %d) = %q, want %q", tt.fn, tt.n, got, tt.want)
		}
		if runes(got) > tt.n {
			t.Errorf("fitFunc(%q, %d) = %q is %d runes wide", tt.fn, tt.n, got, runes(got))
		}
	}
}

func TestFitCell(t *testing.T) {
	loc := cell{main: "server.(*server).serve", sep: "  ", rest: "server/serve.go:56"}
	state := cell{main: "chan receive", sep: " ", rest: "+3 running"}
	tests := []struct {
		name string
		c    cell
		n    int
		cu   cut
		want string
	}{
		{"a location that fits stays whole", loc, 42, keepLoc, "server.(*server).serve  server/serve.go:56"},
		{"a location loses the middle of its function first", loc, 36, keepLoc, "server.…serve  server/serve.go:56"},
		{"then its function", loc, 24, keepLoc, "server/serve.go:56"},
		{"and only then the start of its file:line", loc, 16, keepLoc, "…ver/serve.go:56"},
		{"words stay words", cell{main: "(no go statement)"}, 10, keepLoc, "(no go st…"},
		{"a state keeps its start", state, 20, keepStart, "chan receive +3 run…"},
		{"a state cut inside its main part says so", state, 12, keepStart, "chan receiv…"},
		{"examples keep whole ids", cell{main: "3000 3001 3002"}, 12, keepWords, "3000 3001 …"},
		{"a column that is not cut stays wide", cell{main: "15.6M"}, 3, noCut, "15.6M"},
	}
	for _, tt := range tests {
		got := fitCell(tt.c, tt.n, tt.cu).String()
		if got != tt.want {
			t.Errorf("%s: fitCell(%q, %d) = %q, want %q", tt.name, tt.c.String(), tt.n, got, tt.want)
		}
		if tt.cu != noCut && runes(got) > tt.n {
			t.Errorf("%s: %q is wider than %d", tt.name, got, tt.n)
		}
	}
}

func TestFitLongNames(t *testing.T) {
	// A generic method of a deep package, as the table shows it in 30 columns.
	fn := shortFunc("github.com/acme/platform/internal/cache.(*Shard[go.shape.string,go.shape.*uint8]).evictLoop.func2")
	if fn != "cache.(*Shard[...]).evictLoop.func2" {
		t.Fatalf("shortFunc = %q", fn)
	}
	got := fitCell(cell{main: fn, sep: "  ", rest: "shard.go:212"}, 30, keepLoc).String()
	if got != "cache.…func2  shard.go:212" {
		t.Errorf("fitted to 30: %q", got)
	}
	if strings.Contains(got, "go.shape") {
		t.Errorf("type arguments shown: %q", got)
	}
}
