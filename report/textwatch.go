package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// WatchText writes a watch as gorigin watch prints it: the totals, a table of each
// group's counts (growth in every interval marked) and the verdict.
func WatchText(w io.Writer, res *snapshot.Watch, every time.Duration) error {
	fmt.Fprintf(w, "%s  %d samples every %v  goroutines %s\n", Printable(res.Source), len(res.Totals), every, joinInts(res.Totals))
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "GROWTH\tCOUNTS\tGROUP\t")
	for _, g := range res.Groups {
		mark := ""
		if g.GrewEveryInterval {
			mark = "  grew every interval"
		}
		fmt.Fprintf(tw, "%+d\t%s\t%s\t%s\n", g.Last()-g.Counts[0], joinInts(g.Counts), Printable(g.Key), mark)
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
