package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/gorigin-dev/gorigin/internal/source"
	"github.com/gorigin-dev/gorigin/report"
	"github.com/gorigin-dev/gorigin/snapshot"
)

var cmdDiff = &command{
	name: "diff", args: "BEFORE AFTER [flags]", summary: "compare two snapshots of one program group by group, sorted by growth",
	examples: [][2]string{
		{"two saved profiles", "gorigin diff before.txt after.txt"},
		{"a saved snapshot against the live process", "sudo gorigin diff before.json 4242"},
		{"the growth per group as an HTML page", "gorigin diff before.json after.json --format html -o diff.html"},
	},
	flags: func(f *flags) {
		f.snapshotFlags()
		f.liveFlags()
		f.fs.DurationVar(&f.minAge, "min-age", 0, "diff: also count the new goroutines that have waited at least this `duration`")
		f.group(filterFlags, "min-age")
	},
	run:      runDiff,
	operands: func(words []string) []string { return append(pids(words), filesDirective) },
}

// runDiff is "gorigin diff BEFORE AFTER": two snapshots of one program (files, URLs,
// "-", saved JSON snapshots, or live pids), group by group, sorted by growth.
func runDiff(f *flags, pos []string, std stdio3) error {
	if len(pos) != 2 {
		return usageError{msg: "diff takes two sources: gorigin diff BEFORE AFTER (each a dump file, URL, -, saved JSON snapshot or pid)"}
	}
	if f.format != "text" && f.format != "json" && f.format != "html" {
		return usageError{msg: fmt.Sprintf("--format %q: diff writes text, json or html", f.format)}
	}
	if pos[0] == "-" && pos[1] == "-" {
		return usageError{msg: "diff: only one source can be standard input"}
	}
	key, err := snapshot.ParseKey(f.by)
	if err != nil {
		return usageError{msg: err.Error(), err: err}
	}
	var snaps [2]*snapshot.Snapshot
	var gs [2][]snapshot.Goroutine
	for i, src := range pos {
		if snaps[i], err = diffSource(src, std.in, f); err != nil {
			return err
		}
		if gs[i], err = shownGoroutines(snaps[i], f); err != nil {
			return err
		}
	}
	for i := range snaps {
		if key.Kind == "origin" && len(gs[i]) > 0 && !hasOrigins(gs[i]) {
			fmt.Fprintf(std.err, "gorigin: %s has no creation sites (a debug=1 or debug=0 profile): its groups cannot match by origin; try --by start\n", report.Printable(pos[i]))
		}
	}
	d := snapshot.Compare(snaps[0], snaps[1], gs[0], gs[1], key, snapshot.DiffOptions{MinAge: f.minAge.Seconds()})
	if f.top > 0 && len(d.Groups) > f.top {
		d.Groups = d.Groups[:f.top]
	}
	return write(f, std.out, func(w io.Writer) error {
		switch f.format {
		case "json":
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(d)
		case "html":
			return report.DiffHTML(w, &d, [2]string{pos[0], pos[1]}, 0)
		}
		return diffText(w, &d, pos)
	})
}

// diffSource reads one side of a diff: a live pid, or anything dump reads.
func diffSource(src string, stdin io.Reader, f *flags) (*snapshot.Snapshot, error) {
	if pid, err := strconv.Atoi(src); err == nil && pid > 0 {
		return attach(pid, f)
	}
	return source.Dump(context.Background(), src, stdin)
}

// shownGoroutines applies --match, --exclude and --system as render does.
func shownGoroutines(s *snapshot.Snapshot, f *flags) ([]snapshot.Goroutine, error) {
	match, err := parseFilters(f.match)
	if err != nil {
		return nil, err
	}
	exclude, err := parseFilters(f.exclude)
	if err != nil {
		return nil, err
	}
	gs := snapshot.Select(s.Goroutines, match, exclude)
	if f.system {
		return gs, nil
	}
	user, _ := snapshot.WithoutSystem(gs)
	return user, nil
}

func diffText(w io.Writer, d *snapshot.Diff, names []string) error {
	fmt.Fprintf(w, "before  %s  %d goroutines\n", report.Printable(names[0]), d.BeforeCount)
	fmt.Fprintf(w, "after   %s  %d goroutines", report.Printable(names[1]), d.AfterCount)
	if d.IDsKnown {
		fmt.Fprintf(w, "  %d new since before, %d gone", d.New, d.Gone)
		if d.MinAgeSeconds > 0 {
			fmt.Fprintf(w, ", %d new and waiting ≥ %v", d.NewOld, time.Duration(d.MinAgeSeconds*float64(time.Second)))
		}
	} else {
		fmt.Fprint(w, "  (no goroutine ids on one side: new goroutines cannot be told apart)")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "DELTA\tBEFORE\tAFTER\tNEW\tGROUP\tNEW IDS")
	for _, g := range d.Groups {
		newCol, ids := "-", ""
		if d.IDsKnown {
			newCol = strconv.Itoa(g.New)
			for i, id := range g.NewIDs {
				if i > 0 {
					ids += " "
				}
				ids += strconv.FormatInt(id, 10)
			}
		}
		fmt.Fprintf(tw, "%+d\t%d\t%d\t%s\t%s\t%s\n", g.Delta, g.Before, g.After, newCol, report.Printable(g.Key), ids)
	}
	return tw.Flush()
}

func hasOrigins(gs []snapshot.Goroutine) bool {
	for _, g := range gs {
		if g.Origin != nil {
			return true
		}
	}
	return false
}
