package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorigin-dev/gorigin/snapshot"
)

func init() { register("html", html) }

// HTML writes g as an HTML page (Render).
func HTML(w io.Writer, g snapshot.Grouped, opt Options) error { return Render(w, "html", g, opt) }

// maxListedPerGroup is how many distinct stacks a group lists when expanded; the
// goroutines with other stacks are counted.
const maxListedPerGroup = 100

//go:embed html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Parse(htmlSource))

// HTML writes one self-contained page (no network fetches): a summary of s, the groups
// as a sortable, filterable table whose rows expand to their goroutines and stacks, and
// the spawn tree as inline SVG. The page opens group N's row when its address ends in
// #open=gN (several: #open=g0,g3).
func html(w io.Writer, s *snapshot.Snapshot, groups []snapshot.Group, opt Options) error {
	tree, err := buildSpawnTree(s, groups, opt.Top)
	if err != nil {
		return err
	}
	page := htmlPage{
		Title:     "gorigin: " + sourceText(s.Source),
		Source:    sourceText(s.Source),
		Total:     thousands(int64(len(s.Goroutines))),
		NumGroups: thousands(int64(len(groups))),
		By:        opt.by.String(),
		Tree:      spawnTreeSVG(tree, len(s.Goroutines)),
		TreeNote:  tree.prunedNote(),
		Warnings:  warnings(s),
		Leaks:     leakRan(s),
	}
	if s.Source.Kind == snapshot.KindLive {
		page.Freeze = freezeText(s.Source)
	}
	if !s.Source.TakenAt.IsZero() {
		page.TakenAt = s.Source.TakenAt.UTC().Format(time.RFC3339)
	}
	if opt.SystemHidden > 0 {
		page.SystemHidden = thousands(int64(opt.SystemHidden))
	}
	shown := groups
	if opt.Top > 0 && len(shown) > opt.Top {
		shown = shown[:opt.Top]
		page.MoreGroups = thousands(int64(len(groups) - opt.Top))
	}
	for i := range shown {
		row, err := htmlRow(s, &shown[i], i)
		if err != nil {
			return err
		}
		page.Groups = append(page.Groups, row)
	}
	if err := htmlTemplate.Execute(w, page); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return nil
}

type htmlPage struct {
	Title, Source, Total, NumGroups, By, Freeze, TakenAt string
	SystemHidden, MoreGroups, TreeNote                   string
	Warnings                                             []string
	Leaks                                                bool // leak analysis ran: a LEAK column and filter
	Tree                                                 template.HTML
	Groups                                               []htmlGroup
}

type htmlGroup struct {
	Index                      int
	Count                      int
	CountText, State, Created  string
	Start, Waiting, Stack, Key string
	WaitSeconds                float64
	StackBytes                 int64
	States                     string
	Leak                       string // the LEAK cell: "3 leaked +1 live"
	LeakKinds                  string // the verdicts of its members, space-separated, for the filter
	Leaked                     bool   // some member is leaked
	Goroutines                 []htmlGoroutine
	Unlisted                   string
	unlisted                   int
}

// htmlGoroutine is one stack of a group and the goroutines that share it.
type htmlGoroutine struct {
	Head   string // "3 goroutines [waiting: chan receive, 14m]: 18 19 20"
	State  string
	Frames []string
	count  int
	ids    []int64
}

// maxIDsPerStack is how many ids a shared stack lists.
const maxIDsPerStack = 20

func (h *htmlGoroutine) add(id int64) {
	h.count++
	if id != 0 && len(h.ids) < maxIDsPerStack {
		h.ids = append(h.ids, id)
	}
}

func (h *htmlGoroutine) finish() {
	if h.count == 1 && len(h.ids) == 1 {
		h.Head = "goroutine " + strconv.FormatInt(h.ids[0], 10) + " [" + h.State + "]"
		return
	}
	h.Head = thousands(int64(h.count)) + " " + plural(h.count, "goroutine", "goroutines") + " [" + h.State + "]"
	if len(h.ids) > 0 {
		ids := make([]string, len(h.ids))
		for i, id := range h.ids {
			ids[i] = strconv.FormatInt(id, 10)
		}
		h.Head += " ids " + strings.Join(ids, " ")
		if h.count > len(h.ids) {
			h.Head += " …"
		}
	}
}

func htmlRow(s *snapshot.Snapshot, g *snapshot.Group, i int) (htmlGroup, error) {
	row := htmlGroup{
		Index: i, Count: g.Count, CountText: thousands(int64(g.Count)), State: stateCell(g), Created: createdCell(g),
		Start: "-", Waiting: humanWait(g.MaxWaitSeconds), Stack: humanBytes(g.StackBytes), Key: g.Key,
		WaitSeconds: g.MaxWaitSeconds, StackBytes: g.StackBytes,
	}
	if g.Start != nil {
		row.Start = shortFunc(g.Start.Func)
	}
	row.Leak = leakText(s, g)
	counts := leakCounts(s, g)
	row.Leaked = counts[snapshot.Leaked] > 0
	var kinds []string
	for v, c := range counts {
		if c > 0 && v != "" {
			kinds = append(kinds, string(v))
		}
	}
	slices.Sort(kinds)
	row.LeakKinds = strings.Join(kinds, " ")
	states := make([]string, len(g.States))
	for j, st := range g.States {
		states[j] = thousands(int64(st.Count)) + " " + st.String()
	}
	row.States = strings.Join(states, ", ")
	// Members with the same state and stack are listed once, with their ids.
	index := map[string]int{}
	for _, m := range g.Members {
		if m < 0 || m >= len(s.Goroutines) {
			return row, fmt.Errorf("render group %q: member #%d is not among the snapshot's %d goroutines: group the goroutines of the snapshot you render", g.Key, m, len(s.Goroutines))
		}
		gr := &s.Goroutines[m]
		hg := htmlGoroutineOf(gr)
		key := hg.State + "\n" + strings.Join(hg.Frames, "\n")
		n, ok := index[key]
		if !ok {
			if len(row.Goroutines) == maxListedPerGroup {
				row.unlisted++
				continue
			}
			n = len(row.Goroutines)
			index[key] = n
			row.Goroutines = append(row.Goroutines, hg)
		}
		row.Goroutines[n].add(gr.ID)
	}
	for i := range row.Goroutines {
		row.Goroutines[i].finish()
	}
	if row.unlisted > 0 {
		row.Unlisted = thousands(int64(row.unlisted))
	}
	return row, nil
}

// htmlGoroutineOf is a goroutine's state and stack as a Go traceback shows them.
func htmlGoroutineOf(g *snapshot.Goroutine) htmlGoroutine {
	st := string(g.Status)
	if g.WaitReason != "" {
		st += ": " + g.WaitReason
	}
	if g.WaitSeconds > 0 {
		st += ", " + humanWait(g.WaitSeconds)
	}
	if g.ParentID != 0 {
		st += ", parent " + strconv.FormatInt(g.ParentID, 10)
	}
	for _, k := range sortedKeys(g.Labels) {
		st += fmt.Sprintf(", %s=%q", k, g.Labels[k])
	}
	out := htmlGoroutine{State: st}
	frame := func(prefix string, l *snapshot.Location) {
		t := prefix + l.Func
		if l.Inlined {
			t += " (inlined)"
		}
		if l.File != "" {
			t += "\n    " + l.File + ":" + strconv.Itoa(l.Line)
		}
		out.Frames = append(out.Frames, t)
	}
	if len(g.Frames) == 0 {
		out.Frames = append(out.Frames, snapshot.NoStack)
		if g.Start != nil {
			frame("start ", g.Start)
		}
	}
	for i := range g.Frames {
		frame("", &g.Frames[i])
	}
	if g.Origin != nil {
		frame("created by ", g.Origin)
	} else {
		out.Frames = append(out.Frames, snapshot.NoOrigin)
	}
	return out
}
