//go:build !nodelve

package source

import (
	"errors"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/dbg/delve"
)

// TestDelveVersions: Delve v1.27.2 supports Go 1.25 to 1.27 (pkg/goversion, read by
// dbg/delve); a failure of Delve on a target built by another release says so and names
// --backend native, and one on a supported release is left as it is.
func TestDelveVersions(t *testing.T) {
	delveErr := errors.New("attach 42 with delve: could not read debug info")
	for _, c := range []struct {
		goVersion string
		supported bool
	}{
		{"go1.20.14", false}, {"go1.21.13", false}, {"go1.24.13", false},
		{"go1.25.9", true}, {"go1.26.8", true}, {"go1.27.3", true},
		{"go1.28rc1", false}, {"devel +abc", true}, {"", true},
	} {
		if got := delve.Supports(c.goVersion); got != c.supported {
			t.Errorf("delve.Supports(%q) = %v, want %v", c.goVersion, got, c.supported)
		}
		err := delveHint(delveErr, c.goVersion)
		if !errors.Is(err, delveErr) {
			t.Errorf("%s: %v does not wrap Delve's error", c.goVersion, err)
		}
		hinted := strings.Contains(err.Error(), "Delve v1.27.2 supports Go 1.25 to 1.27 and the target was built by "+c.goVersion+": use --backend native")
		if hinted == c.supported {
			t.Errorf("%s: %q: want the hint %v", c.goVersion, err, !c.supported)
		}
	}
}
