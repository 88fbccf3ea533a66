package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/gorigin-dev/gorigin/report"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// exitGrowing is watch's verdict when some group grew in every interval.
const exitGrowing = 3

var cmdWatch = &command{
	name: "watch", args: "PID|URL [flags]", summary: "take repeated snapshots and say whether a group grew in every interval",
	exits: "3 when some group grew in every interval",
	examples: [][2]string{
		{"six snapshots ten seconds apart (the default)", "sudo gorigin watch 4242"},
		{"a server's profile endpoint every minute, as JSON", "gorigin watch http://localhost:6060 --every 1m --samples 10 --format json"},
		{"a page charting each group's count, rewritten after every sample (refresh the browser)", "gorigin watch http://localhost:6060 --every 30s --samples 20 --format html -o watch.html"},
		{"fail a CI job when a group keeps growing", "gorigin watch http://localhost:6060 --every 5s --samples 4 || echo leak"},
	},
	flags: func(f *flags) {
		f.snapshotFlags()
		f.liveFlags()
		f.fs.DurationVar(&f.every, "every", 10*time.Second, "watch: time between snapshots")
		f.fs.IntVar(&f.samples, "samples", 6, "watch: how many snapshots to take (at least 3)")
		f.group(sourceFlags, "every", "samples")
	},
	run:      runWatch,
	operands: pids,
}

// runWatch is "gorigin watch SOURCE --every 10s --samples 6": repeated snapshots of one
// source (a live pid, a profile URL), and a verdict: exit status 3 when some group grew
// in every interval.
func runWatch(f *flags, pos []string, std stdio3) error {
	res, err := watch(f, pos, std.out)
	if err != nil {
		return err
	}
	if len(res.Growing) > 0 {
		return exitCode(exitGrowing)
	}
	return nil
}

func watch(f *flags, pos []string, stdout io.Writer) (*snapshot.Watch, error) {
	every, samples := f.every, f.samples
	switch {
	case len(pos) != 1:
		return nil, usageError{msg: "watch takes one source: gorigin watch PID|URL [--every 10s --samples 6]"}
	case samples < 3:
		return nil, usageError{msg: "--samples must be at least 3: growth in one interval cannot be told from noise"}
	case every <= 0:
		return nil, usageError{msg: "--every must be positive"}
	case f.format != "text" && f.format != "json" && f.format != "html":
		return nil, usageError{msg: fmt.Sprintf("--format %q: watch writes text, json or html", f.format)}
	case pos[0] == "-":
		return nil, usageError{msg: "watch needs a source it can read again: a pid or a URL, not standard input"}
	}
	key, err := snapshot.ParseKey(f.by)
	if err != nil {
		return nil, usageError{msg: err.Error(), err: err}
	}
	if key.Kind == snapshot.ByObject {
		return nil, noObjects("watch does not read them")
	}
	progress := f.progress() // samples taken and time left, on a terminal
	defer progress.Clear()
	res := &snapshot.Watch{Source: pos[0], By: key.String()}
	at := map[string]int{}
	next := time.Now()
	for i := 0; i < samples; i++ {
		if i > 0 {
			next = next.Add(every)
			end := next.Add(time.Duration(samples-1-i) * every)
			waitUntil(next, func() {
				progress.Update(watchStage(len(res.MarkGrowing()), time.Until(end)), i, samples)
			})
		}
		progress.Clear() // a sample of a live process draws its own bar on this line
		snap, err := diffSource(pos[0], nil, f)
		if err != nil {
			return nil, fmt.Errorf("watch sample %d of %d: %w", i+1, samples, err)
		}
		gs, err := shownGoroutines(snap, f)
		if err != nil {
			return nil, err
		}
		res.TakenAt = append(res.TakenAt, time.Now().UTC())
		res.Totals = append(res.Totals, len(gs))
		for _, grp := range snapshot.GroupBy(gs, key) {
			n, ok := at[grp.Key]
			if !ok {
				n = len(res.Groups)
				at[grp.Key] = n
				res.Groups = append(res.Groups, snapshot.WatchGroup{Key: grp.Key, Origin: grp.Origin, Start: grp.Start, Counts: make([]int, i, samples)})
			}
			g := &res.Groups[n]
			g.Counts = append(g.Counts, grp.Count)
		}
		for n := range res.Groups { // groups absent from this sample count 0
			if g := &res.Groups[n]; len(g.Counts) == i {
				g.Counts = append(g.Counts, 0)
			}
		}
		if i < samples-1 {
			if err := watchPage(f, stdout, res, every, false); err != nil {
				return nil, err
			}
		}
		progress.Update(watchStage(len(res.MarkGrowing()), time.Duration(samples-1-i)*every), i+1, samples)
	}
	res.Growing = res.MarkGrowing()
	res.Sort()
	if f.top > 0 && len(res.Groups) > f.top {
		res.Groups = res.Groups[:f.top]
	}
	if f.format == "html" {
		return res, watchPage(f, stdout, res, every, true)
	}
	err = write(f, stdout, func(w io.Writer) error {
		if f.format == "json" {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		}
		return report.WatchText(w, res, every)
	})
	return res, err
}

// watchStage is the progress bar's text between samples.
func watchStage(growing int, left time.Duration) string {
	return fmt.Sprintf("watching: %d %s growing, %v left", growing, plural(growing, "group", "groups"), left.Round(time.Second))
}

// waitUntil sleeps until t, calling tick about twice a second.
func waitUntil(t time.Time, tick func()) {
	for {
		left := time.Until(t)
		if left <= 0 {
			return
		}
		tick()
		time.Sleep(min(left, 500*time.Millisecond))
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
