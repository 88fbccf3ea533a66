package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

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
	if key.Kind == snapshot.ByObject {
		return noObjects("diff does not read them")
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
		if key.Kind != snapshot.ByOrigin || len(gs[i]) == 0 || hasOrigins(gs[i]) {
			continue
		}
		// A debug=1 or debug=0 profile says which function each goroutine runs but not which
		// go statement created it: by origin every one of its groups would look new or gone.
		lacks := fmt.Sprintf("%s has no creation sites (a debug=1 or debug=0 profile: only debug=2 has the \"created by\" lines)", report.Printable(pos[i]))
		if f.set("by") {
			return usageError{msg: lacks + ": its goroutines cannot be matched by origin; use --by start, or a debug=2 dump"}
		}
		key = snapshot.Key{Kind: snapshot.ByStart}
		fmt.Fprintf(std.err, "gorigin: %s: comparing by start function (--by start)\n", lacks)
		break
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
		return report.DiffText(w, &d, [2]string{pos[0], pos[1]})
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

func hasOrigins(gs []snapshot.Goroutine) bool {
	for _, g := range gs {
		if g.Origin != nil {
			return true
		}
	}
	return false
}
