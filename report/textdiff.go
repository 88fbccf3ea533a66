package report

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// DiffText writes a diff as gorigin diff prints it: both sides' totals (names are where
// they come from) and a table of the groups, largest growth first.
func DiffText(w io.Writer, d *snapshot.Diff, names [2]string) error {
	fmt.Fprintf(w, "before  %s  %d goroutines\n", Printable(names[0]), d.BeforeCount)
	fmt.Fprintf(w, "after   %s  %d goroutines", Printable(names[1]), d.AfterCount)
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
		fmt.Fprintf(tw, "%+d\t%d\t%d\t%s\t%s\t%s\n", g.Delta, g.Before, g.After, newCol, Printable(g.Key), ids)
	}
	return tw.Flush()
}
