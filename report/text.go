package report

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gorigin-dev/gorigin/snapshot"
)

func init() { register("text", Text) }

// Text writes a header about s and a table of groups, one row per group, largest
// first. groups must come from snapshot.GroupBy(s.Goroutines, opt.By): -v prints each
// group's representative from s.Goroutines. The header counts s.Goroutines, so a caller
// that filters passes a copy of the snapshot holding the selected goroutines.
func Text(w io.Writer, s *snapshot.Snapshot, groups []snapshot.Group, opt TextOptions) error {
	var b bytes.Buffer
	writeHeader(&b, s)
	shown := groups
	if opt.Top > 0 && len(shown) > opt.Top {
		shown = shown[:opt.Top]
	}
	if len(groups) == 0 {
		b.WriteString("(no goroutines)\n")
	} else if err := writeTable(&b, s, shown, opt); err != nil {
		return err
	}
	if more := len(groups) - len(shown); more > 0 {
		fmt.Fprintf(&b, "(+%s more %s: --top 0 shows all)\n", thousands(int64(more)), plural(more, "group", "groups"))
	}
	if opt.SystemHidden > 0 {
		fmt.Fprintf(&b, "(+%s system %s not shown: --system)\n", thousands(int64(opt.SystemHidden)), plural(opt.SystemHidden, "goroutine", "goroutines"))
	}
	_, err := w.Write(b.Bytes())
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// writeHeader writes "pid N  EXE  GOVERSION  N goroutines  frozen X ms" and the warnings.
func writeHeader(b *bytes.Buffer, s *snapshot.Snapshot) {
	src := s.Source
	var parts []string
	switch src.Kind {
	case "live":
		if src.Pid != 0 {
			parts = append(parts, "pid "+strconv.Itoa(src.Pid))
		}
	default: // core, dump: name the file, which is what the user has
		where := src.Kind
		if src.File != "" {
			where += " " + src.File
		}
		parts = append(parts, where)
	}
	if src.Exe != "" {
		parts = append(parts, src.Exe)
	}
	if src.GoVersion != "" {
		parts = append(parts, src.GoVersion)
	}
	n := len(s.Goroutines)
	parts = append(parts, thousands(int64(n))+" "+plural(n, "goroutine", "goroutines"))
	if src.Kind == "live" {
		parts = append(parts, freezeText(src))
	}
	b.WriteString(strings.Join(parts, "  "))
	b.WriteByte('\n')
	if src.Partial {
		b.WriteString("warning: partial snapshot: the read stopped at the freeze deadline (--max-freeze); goroutines not read are missing\n")
	}
	for _, w := range s.Warnings {
		b.WriteString("warning: " + w + "\n")
	}
}

// cut says which end of a cell to keep when the table must be narrowed.
type cut int

const (
	noCut     cut = iota
	keepEnd       // "…r).serve  api/main.go:56": the specific end of a name
	keepStart     // "chan receive +3 r…"
	keepWords     // "18 19 20 …": whole words from the start
)

type column struct {
	head  string
	right bool
	cut   cut
	// shrink orders the columns that fit narrows: 1 first, down to minWidth.
	shrink   int
	minWidth int
	cell     func(g *snapshot.Group) string
}

// columns picks the table's columns for a key: the key's own column first after COUNT.
func columns(k snapshot.Key) []column {
	count := column{head: "COUNT", right: true, cell: func(g *snapshot.Group) string { return strconv.Itoa(g.Count) }}
	state := column{head: "STATE", cut: keepStart, shrink: 5, minWidth: 12, cell: stateCell}
	created := column{head: "CREATED AT (e.g.)", cut: keepEnd, shrink: 3, minWidth: 20, cell: createdCell}
	start := column{head: "START", cut: keepEnd, shrink: 2, minWidth: 12, cell: func(g *snapshot.Group) string {
		if g.Start == nil {
			return "-"
		}
		return shortFunc(g.Start.Func)
	}}
	location := column{head: "LOCATION", cut: keepEnd, shrink: 4, minWidth: 20, cell: func(g *snapshot.Group) string {
		if g.Location == nil {
			return snapshot.NoStack
		}
		return shortLoc(g.Location)
	}}
	waiting := column{head: "WAITING", cell: func(g *snapshot.Group) string { return humanWait(g.MaxWaitSeconds) }}
	stack := column{head: "STACK", cell: func(g *snapshot.Group) string { return humanBytes(g.StackBytes) }}
	examples := column{head: "EXAMPLES", cut: keepWords, shrink: 1, minWidth: 8, cell: examplesCell}
	switch k.Kind {
	case "start":
		return []column{count, start, state, created, waiting, stack, examples}
	case "wait":
		return []column{count, state, created, start, waiting, stack, examples}
	case "location":
		return []column{count, location, state, created, waiting, stack, examples}
	case "label":
		label := column{head: "LABEL " + k.Label, cut: keepStart, shrink: 4, minWidth: 12, cell: labelCell}
		return []column{count, label, state, created, start, waiting, stack, examples}
	case "parent":
		parent := column{head: "PARENT", right: true, cell: func(g *snapshot.Group) string {
			if g.Parent == 0 {
				return "-"
			}
			return strconv.FormatInt(g.Parent, 10)
		}}
		return []column{count, parent, state, created, start, waiting, stack, examples}
	}
	created.head = "CREATED AT (go statement)"
	return []column{count, state, created, start, waiting, stack, examples}
}

// stateCell is the dominant state, plus "+N STATE" for a second state or "+N other"
// for several.
func stateCell(g *snapshot.Group) string {
	if len(g.States) == 0 {
		return "-"
	}
	t := g.States[0].String()
	rest := g.Count - g.States[0].Count
	switch {
	case len(g.States) == 2:
		t += fmt.Sprintf(" +%d %s", rest, g.States[1].String())
	case len(g.States) > 2:
		t += fmt.Sprintf(" +%d other", rest)
	}
	return t
}

func createdCell(g *snapshot.Group) string {
	if g.Origin == nil {
		return "(no go statement)"
	}
	return shortLoc(g.Origin)
}

func labelCell(g *snapshot.Group) string {
	if g.LabelValue != "" {
		return g.LabelValue
	}
	if strings.HasPrefix(g.Key, "(") { // GroupBy's text for goroutines without the label
		return "(none)"
	}
	return `""`
}

func examplesCell(g *snapshot.Group) string {
	if len(g.Examples) == 0 {
		return "-"
	}
	ids := make([]string, len(g.Examples))
	for i, id := range g.Examples {
		ids[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(ids, " ")
}

const gap = "  "

func writeTable(b *bytes.Buffer, s *snapshot.Snapshot, groups []snapshot.Group, opt Options) error {
	cols := columns(opt.By)
	cells := make([][]string, len(groups))
	width := make([]int, len(cols))
	for i, c := range cols {
		width[i] = runes(c.head)
	}
	for r := range groups {
		cells[r] = make([]string, len(cols))
		for i, c := range cols {
			cells[r][i] = c.cell(&groups[r])
			width[i] = max(width[i], runes(cells[r][i]))
		}
	}
	if opt.Width > 0 {
		fit(cols, width, opt.Width)
	}
	heads := make([]string, len(cols))
	for i, c := range cols {
		heads[i] = c.head
	}
	writeRow(b, cols, width, heads, true)
	for r := range groups {
		writeRow(b, cols, width, cells[r], false)
		if opt.Verbose {
			if err := writeDetail(b, s, &groups[r]); err != nil {
				return err
			}
		}
	}
	return nil
}

// fit narrows the columns that may be cut until a row fits in total runes: each in
// its shrink order down to its minWidth, then the widest ones down to a few runes.
func fit(cols []column, width []int, total int) {
	over := len(gap)*(len(cols)-1) - total
	for _, w := range width {
		over += w
	}
	for prio := 1; over > 0 && prio <= 5; prio++ {
		for i, c := range cols {
			if c.shrink == prio && c.cut != noCut && width[i] > c.minWidth {
				d := min(over, width[i]-c.minWidth)
				width[i] -= d
				over -= d
			}
		}
	}
	const floor = 4
	for ; over > 0; over-- {
		widest := -1
		for i, c := range cols {
			if c.cut != noCut && width[i] > floor && (widest < 0 || width[i] > width[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			return // nothing left to narrow: the row stays too wide
		}
		width[widest]--
	}
}

// writeRow writes one row of cells; a header row is cut at its end when narrowed.
func writeRow(b *bytes.Buffer, cols []column, width []int, cells []string, header bool) {
	var line strings.Builder
	for i, c := range cols {
		cu := c.cut
		if header && cu != noCut {
			cu = keepWords
		}
		t := shorten(cells[i], width[i], cu)
		pad := strings.Repeat(" ", width[i]-runes(t))
		if i > 0 {
			line.WriteString(gap)
		}
		switch {
		case c.right:
			line.WriteString(pad + t)
		case i == len(cols)-1:
			line.WriteString(t)
		default:
			line.WriteString(t + pad)
		}
	}
	b.WriteString(strings.TrimRight(line.String(), " "))
	b.WriteByte('\n')
}

// shorten cuts t to n runes with an ellipsis, keeping the end cu says.
func shorten(t string, n int, cu cut) string {
	r := []rune(t)
	if len(r) <= n || cu == noCut || n < 1 {
		return t
	}
	switch cu {
	case keepEnd:
		return "…" + string(r[len(r)-n+1:])
	case keepWords:
		head := string(r[:n-1])
		if i := strings.LastIndexByte(head, ' '); i > 0 {
			return head[:i+1] + "…"
		}
	}
	return string(r[:n-1]) + "…"
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// writeDetail writes a group's state breakdown and its representative goroutine, as
// a Go traceback would show it.
func writeDetail(b *bytes.Buffer, s *snapshot.Snapshot, g *snapshot.Group) error {
	if g.Rep < 0 || g.Rep >= len(s.Goroutines) {
		return fmt.Errorf("render group %q: representative #%d is not among the snapshot's %d goroutines: group the goroutines of the snapshot you render", g.Key, g.Rep, len(s.Goroutines))
	}
	const in = "    "
	states := make([]string, len(g.States))
	for i, st := range g.States {
		states[i] = fmt.Sprintf("%d %s", st.Count, st.String())
	}
	b.WriteString(in + "states: " + strings.Join(states, ", ") + "\n")
	rep := &s.Goroutines[g.Rep]
	head := "representative goroutine (id unknown)"
	if rep.ID != 0 {
		head = "representative goroutine " + strconv.FormatInt(rep.ID, 10)
	}
	st := rep.Status
	if rep.WaitReason != "" {
		st += ": " + rep.WaitReason
	}
	if rep.WaitSeconds > 0 {
		st += ", " + humanWait(rep.WaitSeconds)
	}
	b.WriteString(in + head + " [" + st + "]:\n")
	if len(rep.Frames) == 0 {
		b.WriteString(in + snapshot.NoStack + "\n")
		if rep.Start != nil {
			writeFrame(b, in, "start ", rep.Start)
		}
	}
	for i := range rep.Frames {
		writeFrame(b, in, "", &rep.Frames[i])
	}
	if rep.Origin != nil {
		writeFrame(b, in, "created by ", rep.Origin)
	} else {
		b.WriteString(in + snapshot.NoOrigin + "\n")
	}
	b.WriteByte('\n')
	return nil
}

func writeFrame(b *bytes.Buffer, in, prefix string, l *snapshot.Location) {
	b.WriteString(in + prefix + l.Func)
	if l.Inlined {
		b.WriteString(" (inlined)")
	}
	b.WriteByte('\n')
	if l.File != "" {
		fmt.Fprintf(b, "%s    %s:%d\n", in, l.File, l.Line)
	}
}
