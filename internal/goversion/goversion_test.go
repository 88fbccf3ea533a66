package goversion

import (
	"go/version"
	"testing"
)

// TestParse: every form in which a toolchain writes its version gives its release line,
// the one go/version.Lang names; anything else is unknown.
func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Version
	}{
		{"go1.20.14", 20},
		{"go1.26.8", 26},
		{"go1.27", 27},
		{"go1.27rc1", 27},
		{"go1.28beta2", 28},
		{"go1.26.8 X:nocoverageredesign", 26},
		{"go1.27-bigcorp", 27},
		{"devel go1.27-2f3c4e1a Tue Dec 1 10:00:00 2026 +0000", 27},
		{"devel +abc", 0},
		{"", 0},
		{"go1", 0},
		{"go2.0", 0},
		{"1.26.8", 0},
		{"go1.x", 0},
		{"go1.-3", 0},
		{"go1.99999999999999999999", 0},
	} {
		if got := Parse(c.in); got != c.want {
			t.Errorf("Parse(%q) = %d, want %d", c.in, got, c.want)
		}
		// The oracle: go/version's own language version of the release.
		if c.want.Known() && version.Lang(c.want.String()) != c.want.String() {
			t.Errorf("%q: %s is not a Go language version", c.in, c.want)
		}
	}
	if s := Version(0).String(); s != "unknown" {
		t.Errorf("Version(0) = %q, want unknown", s)
	}
}
