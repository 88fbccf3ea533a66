package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"

	"github.com/gorigin-dev/gorigin/snapshot"
)

//go:embed htmldiff.tmpl
var htmlDiffSource string

var htmlDiffTemplate = template.Must(template.Must(htmlTemplate.Clone()).New("diff").Parse(htmlDiffSource))

// DiffHTML writes a comparison of two snapshots (gorigin diff) as one self-contained page:
// both sources and totals, and the groups' before, after, delta and new goroutines as a
// sortable, filterable table, largest growth first. names are how the user named the two
// sources; top > 0 shows only the first top groups.
func DiffHTML(w io.Writer, d *snapshot.Diff, names [2]string, top int) error {
	page := htmlDiffPage{
		Title:       "gorigin diff: " + names[0] + " → " + names[1],
		Before:      names[0] + " (" + sourceText(d.Before) + ")",
		After:       names[1] + " (" + sourceText(d.After) + ")",
		BeforeCount: thousands(int64(d.BeforeCount)),
		AfterCount:  thousands(int64(d.AfterCount)),
		TotalDelta:  signed(d.AfterCount - d.BeforeCount),
		By:          d.By,
	}
	if d.IDsKnown {
		page.NewGone = fmt.Sprintf("%s new since before, %s gone", thousands(int64(d.New)), thousands(int64(d.Gone)))
	} else {
		page.Warnings = append(page.Warnings, "no goroutine ids on one side: new goroutines cannot be told apart")
	}
	groups := d.Groups
	if top > 0 && len(groups) > top {
		page.MoreGroups = thousands(int64(len(groups) - top))
		groups = groups[:top]
	}
	most := 1
	for _, g := range groups {
		most = max(most, g.Delta, -g.Delta)
	}
	for i, g := range groups {
		row := htmlDiffGroup{
			Index: i, Key: g.Key, Delta: g.Delta, Before: g.Before, After: g.After, New: g.New,
			DeltaText: signed(g.Delta), BeforeText: thousands(int64(g.Before)), AfterText: thousands(int64(g.After)),
			NewText: "-", Created: "(no go statement)", Start: "-",
			Waiting: humanWait(g.MaxWaitSeconds), WaitSeconds: g.MaxWaitSeconds,
			BarEm: strconv.FormatFloat(6*float64(max(g.Delta, -g.Delta))/float64(most), 'f', 2, 64),
		}
		if d.IDsKnown {
			row.NewText = thousands(int64(g.New))
		}
		if g.Origin != nil {
			row.Created = locCell(g.Origin).String()
		}
		if g.Start != nil {
			row.Start = shortFunc(g.Start.Func)
		}
		ids := make([]string, len(g.NewIDs))
		for j, id := range g.NewIDs {
			ids[j] = strconv.FormatInt(id, 10)
		}
		row.NewIDs = strings.Join(ids, " ")
		page.Groups = append(page.Groups, row)
	}
	if err := htmlDiffTemplate.ExecuteTemplate(w, "diff", page); err != nil {
		return fmt.Errorf("write HTML diff: %w", err)
	}
	return nil
}

// signed is n with its sign and thousands separators: "+1,024", "-3", "0".
func signed(n int) string {
	if n > 0 {
		return "+" + thousands(int64(n))
	}
	return thousands(int64(n))
}

type htmlDiffPage struct {
	Title, Before, After, BeforeCount, AfterCount, TotalDelta, NewGone, By, MoreGroups string
	Warnings                                                                           []string
	Groups                                                                             []htmlDiffGroup
}

type htmlDiffGroup struct {
	Index                                   int
	Key, NewIDs                             string
	Delta, Before, After, New               int
	DeltaText, BeforeText, AfterText        string
	NewText, Created, Start, Waiting, BarEm string
	WaitSeconds                             float64
}
