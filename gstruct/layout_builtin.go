package gstruct

import (
	"fmt"
	"maps"

	"github.com/gorigin-dev/gorigin/internal/goversion"
)

//go:generate go test -run ^TestBuiltinLayouts$ -update-layouts

// versionLayout is the runtime layout of one Go minor version on one architecture, as the
// DWARF of a program built by that release describes it (layouts_generated.go).
type versionLayout struct {
	arch      string // GOARCH
	release   goversion.Version
	toolchain string // the release whose DWARF it was read from
	l         layout
}

// builtinLayout is the one place that picks a built-in layout: the entry for the
// executable's architecture and Go minor version. It is used only when the executable has
// no DWARF.
func builtinLayout(arch, goVersion string) (*layout, error) {
	release := goversion.Parse(goVersion)
	var lo, hi goversion.Version
	for i := range generatedLayouts {
		v := &generatedLayouts[i]
		if v.arch != arch {
			continue
		}
		if v.release == release {
			l := v.l
			l.statuses = maps.Clone(v.l.statuses) // the caller may not share the table
			return &l, nil
		}
		if lo == 0 || v.release < lo {
			lo = v.release
		}
		hi = max(hi, v.release)
	}
	switch {
	case hi == 0:
		return nil, fmt.Errorf("gorigin has no built-in runtime layouts for %s executables: build it with DWARF (without -ldflags=-w)", arch)
	case goVersion == "":
		return nil, fmt.Errorf("the executable records no Go version (no build info), so no built-in layout applies: build it with DWARF (without -ldflags=-w)")
	default:
		return nil, fmt.Errorf("built-in layouts cover Go 1.%d–1.%d; this binary is %s: build it with DWARF (without -ldflags=-w) or use a newer gorigin", lo, hi, goVersion)
	}
}
