package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gorigin-dev/gorigin/report"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// exitGrowing is watch's verdict when some group grew in every interval.
const exitGrowing = 3

// watchGroup is one group across the samples of a watch.
type watchGroup struct {
	Key    string             `json:"key"`
	Origin *snapshot.Location `json:"origin,omitempty"`
	Start  *snapshot.Location `json:"start,omitempty"`
	// Counts are the group's sizes, one per sample.
	Counts []int `json:"counts"`
	// GrewEveryInterval is true when each count is larger than the one before.
	GrewEveryInterval bool `json:"grewEveryInterval"`
}

// watchResult is watch's JSON document.
type watchResult struct {
	Source  string       `json:"source"`
	By      string       `json:"by"`
	TakenAt []time.Time  `json:"takenAt"`
	Totals  []int        `json:"totals"`
	Groups  []watchGroup `json:"groups"`
	// Growing lists the keys of the groups that grew in every interval; non-empty means
	// exit status 3.
	Growing []string `json:"growing"`
}

var cmdWatch = &command{
	name: "watch", args: "PID|URL [flags]", summary: "take repeated snapshots and say whether a group grew in every interval",
	exits: "3 when some group grew in every interval",
	examples: [][2]string{
		{"six snapshots ten seconds apart (the default)", "sudo gorigin watch 4242"},
		{"a server's profile endpoint every minute, as JSON", "gorigin watch http://localhost:6060 --every 1m --samples 10 --format json"},
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

func watch(f *flags, pos []string, stdout io.Writer) (*watchResult, error) {
	every, samples := f.every, f.samples
	switch {
	case len(pos) != 1:
		return nil, usageError{msg: "watch takes one source: gorigin watch PID|URL [--every 10s --samples 6]"}
	case samples < 3:
		return nil, usageError{msg: "--samples must be at least 3: growth in one interval cannot be told from noise"}
	case every <= 0:
		return nil, usageError{msg: "--every must be positive"}
	case f.format != "text" && f.format != "json":
		return nil, usageError{msg: fmt.Sprintf("--format %q: watch writes text or json", f.format)}
	case pos[0] == "-":
		return nil, usageError{msg: "watch needs a source it can read again: a pid or a URL, not standard input"}
	}
	key, err := snapshot.ParseKey(f.by)
	if err != nil {
		return nil, usageError{msg: err.Error(), err: err}
	}
	progress := f.progress() // samples taken and time left, on a terminal
	defer progress.Clear()
	res := &watchResult{Source: pos[0], By: key.String()}
	at := map[string]int{}
	next := time.Now()
	for i := 0; i < samples; i++ {
		if i > 0 {
			next = next.Add(every)
			end := next.Add(time.Duration(samples-1-i) * every)
			waitUntil(next, func() {
				progress.Update(watchStage(len(growing(res.Groups)), time.Until(end)), i, samples)
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
				res.Groups = append(res.Groups, watchGroup{Key: grp.Key, Origin: grp.Origin, Start: grp.Start, Counts: make([]int, i, samples)})
			}
			g := &res.Groups[n]
			g.Counts = append(g.Counts, grp.Count)
		}
		for n := range res.Groups { // groups absent from this sample count 0
			if g := &res.Groups[n]; len(g.Counts) == i {
				g.Counts = append(g.Counts, 0)
			}
		}
		progress.Update(watchStage(len(growing(res.Groups)), time.Duration(samples-1-i)*every), i+1, samples)
	}
	res.Growing = growing(res.Groups)
	sortWatch(res.Groups)
	if f.top > 0 && len(res.Groups) > f.top {
		res.Groups = res.Groups[:f.top]
	}
	err = write(f, stdout, func(w io.Writer) error {
		if f.format == "json" {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		}
		return watchText(w, res, every)
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

// growing marks and lists the groups whose count rose in every interval so far.
func growing(gs []watchGroup) []string {
	out := []string{}
	for i := range gs {
		g := &gs[i]
		g.GrewEveryInterval = snapshot.GrewEveryInterval(g.Counts)
		if g.GrewEveryInterval {
			out = append(out, g.Key)
		}
	}
	return out
}

// sortWatch puts the groups that grew every time first, then by total growth, then by
// size.
func sortWatch(gs []watchGroup) {
	growth := func(g watchGroup) int { return g.Counts[len(g.Counts)-1] - g.Counts[0] }
	less := func(a, b watchGroup) bool {
		if a.GrewEveryInterval != b.GrewEveryInterval {
			return a.GrewEveryInterval
		}
		if growth(a) != growth(b) {
			return growth(a) > growth(b)
		}
		if last(a) != last(b) {
			return last(a) > last(b)
		}
		return a.Key < b.Key
	}
	for i := 1; i < len(gs); i++ { // insertion sort: stable, few groups
		for j := i; j > 0 && less(gs[j], gs[j-1]); j-- {
			gs[j], gs[j-1] = gs[j-1], gs[j]
		}
	}
}

func last(g watchGroup) int { return g.Counts[len(g.Counts)-1] }

func watchText(w io.Writer, res *watchResult, every time.Duration) error {
	fmt.Fprintf(w, "%s  %d samples every %v  goroutines %s\n", report.Printable(res.Source), len(res.Totals), every, joinInts(res.Totals))
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "GROWTH\tCOUNTS\tGROUP\t")
	for _, g := range res.Groups {
		mark := ""
		if g.GrewEveryInterval {
			mark = "  grew every interval"
		}
		fmt.Fprintf(tw, "%+d\t%s\t%s\t%s\n", last(g)-g.Counts[0], joinInts(g.Counts), report.Printable(g.Key), mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(res.Growing) > 0 {
		fmt.Fprintf(w, "verdict: %d group(s) grew in every interval (exit status 3)\n", len(res.Growing))
	} else {
		fmt.Fprintln(w, "verdict: no group grew in every interval")
	}
	return nil
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, " → ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
