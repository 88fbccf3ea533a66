package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gorigin-dev/gorigin/snapshot"
)

//go:embed htmlwatch.tmpl
var htmlWatchSource string

var htmlWatchTemplate = template.Must(template.Must(htmlTemplate.Clone()).New("watch").Parse(htmlWatchSource))

// WatchHTML writes a watch (gorigin watch --format html) as one self-contained page that
// fetches nothing: the totals and each group's count over the samples as inline SVG line
// charts, the growing groups first and open, the others folded. planned is how many
// samples the watch takes: while fewer are in, the page says so and reloads itself every
// interval (gorigin rewrites it after each sample); the last one carries the verdict.
//
// Each chart carries its data: data-counts (a JSON array) and data-key on the group's
// section, and the polyline's y of 0 and of the chart's maximum (data-y0, data-ymax,
// data-max), so that what is drawn can be checked against gorigin watch --format json.
func WatchHTML(w io.Writer, res *snapshot.Watch, every time.Duration, planned int) error {
	n := len(res.Totals)
	page := htmlWatchPage{
		Title:   "gorigin watch: " + res.Source,
		Source:  res.Source,
		By:      res.By,
		Every:   every.String(),
		Samples: n,
		Planned: planned,
		Totals:  watchChart(res.Totals, "goroutines"),
		Done:    n >= planned,
		Growing: len(res.Growing),
	}
	if !page.Done {
		page.Refresh = strconv.Itoa(max(2, int(every.Round(time.Second)/time.Second)))
	}
	if k := len(res.TakenAt); k > 0 {
		page.First = res.TakenAt[0].UTC().Format(time.RFC3339)
		page.Last = res.TakenAt[k-1].UTC().Format(time.RFC3339)
	}
	for _, g := range res.Groups {
		if len(g.Counts) == 0 {
			continue
		}
		row := htmlWatchGroup{
			Key: g.Key, KeyText: Printable(g.Key), Grew: g.GrewEveryInterval,
			Counts: joinInts(g.Counts), Growth: signed(g.Last() - g.Counts[0]),
			Created: "(no go statement)", Start: "-",
			Chart: watchChart(g.Counts, "goroutines of this group"),
		}
		if g.Origin != nil {
			row.Created = locCell(g.Origin).String()
		}
		if g.Start != nil {
			row.Start = Printable(shortFunc(g.Start.Func))
		}
		if g.Last() > g.Counts[0] || g.GrewEveryInterval {
			page.Rising = append(page.Rising, row)
		} else {
			page.Steady = append(page.Steady, row)
		}
	}
	if err := htmlWatchTemplate.ExecuteTemplate(w, "watch", page); err != nil {
		return fmt.Errorf("write HTML watch: %w", err)
	}
	return nil
}

type htmlWatchPage struct {
	Title, Source, By, Every, First, Last, Refresh string
	Samples, Planned, Growing                      int
	Done                                           bool
	Totals                                         htmlChart
	Rising, Steady                                 []htmlWatchGroup
}

type htmlWatchGroup struct {
	Key, KeyText, Counts, Growth, Created, Start string
	Grew                                         bool
	Chart                                        htmlChart
}

// htmlChart is a line chart of counts over the samples, in SVG user units.
type htmlChart struct {
	Data                   string // the counts as a JSON array
	Points                 string // the polyline's points
	Dots                   []htmlDot
	Width, Height          int
	Y0, YMax, X0, X1       float64
	Max                    int
	MaxLabel, Label, Title string
}

type htmlDot struct {
	X, Y  float64
	Title string
}

// watchChart draws counts from x0 to x1, 0 at the bottom (y0) and the largest count at
// the top (ymax).
func watchChart(counts []int, what string) htmlChart {
	const w, h, left, right, top, bottom = 360, 90, 44, 8, 8, 16
	c := htmlChart{Width: w, Height: h, X0: left, X1: w - right, Y0: h - bottom, YMax: top, Label: what}
	for _, n := range counts {
		c.Max = max(c.Max, n)
	}
	c.MaxLabel = thousands(int64(c.Max))
	top1 := max(c.Max, 1)
	data := make([]string, len(counts))
	pts := make([]string, len(counts))
	for i, n := range counts {
		x := c.X0
		if len(counts) > 1 {
			x += (c.X1 - c.X0) * float64(i) / float64(len(counts)-1)
		}
		y := c.Y0 - (c.Y0-c.YMax)*float64(n)/float64(top1)
		x, y = round2(x), round2(y)
		data[i] = strconv.Itoa(n)
		pts[i] = strconv.FormatFloat(x, 'f', -1, 64) + "," + strconv.FormatFloat(y, 'f', -1, 64)
		c.Dots = append(c.Dots, htmlDot{X: x, Y: y, Title: fmt.Sprintf("sample %d: %s", i+1, thousands(int64(n)))})
	}
	c.Data = "[" + strings.Join(data, ",") + "]"
	c.Points = strings.Join(pts, " ")
	c.Title = fmt.Sprintf("%s over %d samples: %s", what, len(counts), joinInts(counts))
	return c
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
