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
	// By is the key the groups were made with; it decides the table's columns.
	By snapshot.Key
	// SystemHidden is how many system goroutines the caller left out.
	SystemHidden int
	// Width is the terminal width to fit the table into; 0 does not fit.
	Width int
	// Color writes the text table with ANSI colours, for a terminal (see ForTerminal).
	Color bool
}

// TextOptions are the options of the text format.
type TextOptions = Options

// renderer writes s and groups made from s.Goroutines in one format.
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

// Render writes s in the named format. groups must come from
// snapshot.GroupBy(s.Goroutines, opt.By): their Members index s.Goroutines.
func Render(w io.Writer, format string, s *snapshot.Snapshot, groups []snapshot.Group, opt Options) error {
	r, ok := renderers[format]
	if !ok {
		return fmt.Errorf("unknown format %q: valid formats are %s", format, strings.Join(Formats(), ", "))
	}
	return r(w, s, groups, opt)
}
