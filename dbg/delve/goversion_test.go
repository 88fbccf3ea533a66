package delve

import (
	"testing"

	dlvgoversion "github.com/go-delve/delve/pkg/goversion"
)

// TestSupports: the releases Supports accepts are those Delve's own check (the one dlv
// core and dlv exec make on a binary's DWARF producer) accepts.
func TestSupports(t *testing.T) {
	for _, v := range []string{
		"go1.20.14", "go1.21.13", "go1.24.13", "go1.25.0", "go1.25.9", "go1.26.8",
		"go1.27rc1", "go1.27.3", "go1.28rc1", "go1.28.0", "go1.30.1",
	} {
		want := dlvgoversion.Compatible(4, "Go cmd/compile "+v, false) == nil
		if got := Supports(v); got != want {
			t.Errorf("Supports(%q) = %v, Delve's check says %v", v, got, want)
		}
	}
	for _, v := range []string{"", "devel +abc"} {
		if !Supports(v) {
			t.Errorf("Supports(%q) = false, want true: an unknown release counts as supported", v)
		}
	}
	if lo, hi := SupportedGo(); !lo.Known() || hi < lo {
		t.Errorf("SupportedGo() = %v, %v", lo, hi)
	}
}
