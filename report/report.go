// Package report renders a snapshot and its groups for people and programs: a text
// table, JSON, a pprof profile, the spawn tree in DOT, and a self-contained HTML page.
// It only formats; grouping and filtering happen in package snapshot, and sources never
// reach this package. It also knows the terminal it writes to (colour, width) and draws
// the progress bar of long work on stderr.
//
// Each format lives in its own file and registers itself, so adding a format is adding
// a file.
package report

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// Options control rendering. Formats ignore the options that do not apply to them.
type Options struct {
	// Top is how many groups to show; 0 shows all.
	Top int
	// Verbose adds each group's state breakdown and its representative's stack.
	Verbose bool
	// SystemHidden is how many system goroutines the caller left out.
	SystemHidden int
	// Width is the terminal width to fit the table into; 0 does not fit.
	Width int
	// Color writes the text table with ANSI colours, for a terminal (see ForTerminal).
	Color bool

	by snapshot.Key // the key the groups were made with: it decides the table's columns
}

// TextOptions are the options of the text format.
type TextOptions = Options

// renderer writes s and groups made from s.Goroutines (by opt.by) in one format.
type renderer func(w io.Writer, s *snapshot.Snapshot, groups []snapshot.Group, opt Options) error

var renderers = map[string]renderer{}

// register is called from the init function of each format's file.
func register(name string, r renderer) { renderers[name] = r }

// Formats lists the supported format names, sorted.
func Formats() []string {
	names := make([]string, 0, len(renderers))
	for n := range renderers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Render writes a grouped snapshot in the named format. The header counts the
// snapshot's goroutines, so a caller that filters groups a copy of the snapshot holding
// the selected goroutines.
func Render(w io.Writer, format string, g snapshot.Grouped, opt Options) error {
	r, ok := renderers[format]
	if !ok {
		return fmt.Errorf("unknown format %q: valid formats are %s", format, strings.Join(Formats(), ", "))
	}
	opt.by = g.Key()
	return r(w, g.Snapshot(), g.Groups(), opt)
}
