package cli

import (
	"io"
	"slices"
	"time"

	"github.com/gorigin-dev/gorigin/report"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// watchPage writes the watch so far as the HTML page (report.WatchHTML) to -o, replacing
// the file whole, so that a browser shows the progress after each sample. Without -o the
// page goes to stdout once, at the end (done).
func watchPage(f *flags, stdout io.Writer, res *snapshot.Watch, every time.Duration, done bool) error {
	if f.format != "html" || (!done && (f.out == "" || f.out == "-")) {
		return nil
	}
	now := *res // at the end, res is sorted, its verdict made and --top applied
	if !done {
		now.Groups = slices.Clone(res.Groups) // watch keeps its order to add counts
		now.Growing = now.MarkGrowing()
		now.Sort()
		if f.top > 0 && len(now.Groups) > f.top {
			now.Groups = now.Groups[:f.top]
		}
	}
	return write(f, stdout, func(w io.Writer) error { return report.WatchHTML(w, &now, every, f.samples) })
}
