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

func init() { register("text", textTable) }

// Text writes g in the text format (Render).
func Text(w io.Writer, g snapshot.Grouped, opt TextOptions) error { return Render(w, "text", g, opt) }

// textTable writes a header about s and a table of groups, one row per group, largest
// first; -v prints each group's representative from s.Goroutines.
func textTable(w io.Writer, s *snapshot.Snapshot, groups []snapshot.Group, opt TextOptions) error {
	var b bytes.Buffer
	writeHeader(&b, s, opt)
	writeCrash(&b, s, opt)
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
		b.WriteString(paint(opt.Color, dim, fmt.Sprintf("(+%s more %s: --top 0 shows all)", thousands(int64(more)), plural(more, "group", "groups"))) + "\n")
	}
	if opt.SystemHidden > 0 {
		b.WriteString(paint(opt.Color, dim, fmt.Sprintf("(+%s system %s not shown: --system)", thousands(int64(opt.SystemHidden)), plural(opt.SystemHidden, "goroutine", "goroutines"))) + "\n")
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
// Fitted to opt.Width, the executable's path loses its start first.
func writeHeader(b *bytes.Buffer, s *snapshot.Snapshot, opt Options) {
	src := s.Source
	var before, after []string
	switch src.Kind {
	case "live":
		if src.Pid != 0 {
			before = append(before, "pid "+strconv.Itoa(src.Pid))
		}
	default: // core, dump: name the file, which is what the user has
		where := string(src.Kind)
		if src.File != "" {
			where += " " + Printable(src.File)
		}
		before = append(before, where)
	}
	if src.GoVersion != "" {
		after = append(after, Printable(src.GoVersion))
	}
	n := len(s.Goroutines)
	count := thousands(int64(n)) + " " + plural(n, "goroutine", "goroutines")
	after = append(after, count)
	if src.Kind == snapshot.KindLive {
		after = append(after, freezeText(src))
	}
	exe := Printable(src.Exe)
	if exe != "" && opt.Width > 0 {
		others := 0
		for _, p := range append(before, after...) {
			others += runes(p) + len(gap)
		}
		base := exe[strings.LastIndexByte(exe, '/')+1:]
		exe = shorten(exe, max(opt.Width-others, 2+runes(base)), keepLoc) // at least "…/NAME"
	}
	parts := before
	if exe != "" {
		parts = append(parts, exe)
	}
	parts = append(parts, after...)
	for _, line := range wrap(parts, gap, opt.Width) {
		if i := strings.LastIndex(line, count); opt.Color && i >= 0 { // the count in bold: the number the reader came for
			line = line[:i] + paint(true, bold, count) + line[i+len(count):]
		}
		b.WriteString(line + "\n")
	}
	for _, w := range warnings(s) {
		lines := wrap(strings.Fields("warning: "+Printable(w)), " ", opt.Width)
		lines[0] = paint(opt.Color, yellow, "warning:") + strings.TrimPrefix(lines[0], "warning:")
		b.WriteString(strings.Join(lines, "\n  ") + "\n")
	}
}

// wrap joins words with sep into lines of at most width runes (0: one line), breaking
// only between words; the lines after the first are for an indent of two. A word wider
// than a line is cut at its start.
func wrap(words []string, sep string, width int) []string {
	var lines []string
	line := ""
	for _, w := range words {
		room := width
		if len(lines) > 0 {
			room -= 2
		}
		switch {
		case line == "":
			line = w
		case width <= 0 || runes(line)+runes(sep)+runes(w) <= room:
			line += sep + w
		default:
			lines = append(lines, line)
			line = w
		}
		if width > 0 && runes(line) > room {
			line = shorten(line, max(room, 2), keepLoc)
		}
	}
	return append(lines, line)
}

type column struct {
	head  string
	right bool
	cut   cut
	// shrink orders the columns that fit narrows: 1 first, down to minWidth.
	shrink   int
	minWidth int
	// drop orders the columns fit leaves out when narrowing is not enough: 1 first; 0 stays.
	drop int
	// key marks the column of a group key that is not a location (--by object's WAITS
	// ON): it keeps its minWidth until the other cut columns are down to a few runes.
	key  bool
	cell func(g *snapshot.Group) cell
}

// columns picks the table's columns for a key: the key's own column first after COUNT.
func columns(k snapshot.Key) []column {
	count := column{head: "COUNT", right: true, cell: func(g *snapshot.Group) cell {
		return cell{main: thousands(int64(g.Count)), style: bold}
	}}
	state := column{head: "STATE", cut: keepStart, shrink: 5, minWidth: 12, cell: stateParts}
	created := column{head: "CREATED AT (e.g.)", cut: keepLoc, shrink: 3, minWidth: 20, cell: createdParts}
	start := column{head: "START", cut: keepFunc, shrink: 2, minWidth: 12, cell: func(g *snapshot.Group) cell {
		if g.Start == nil {
			return text("-")
		}
		return text(shortFunc(g.Start.Func))
	}}
	location := column{head: "LOCATION", cut: keepLoc, shrink: 4, minWidth: 20, cell: func(g *snapshot.Group) cell {
		if g.Location == nil {
			return text(snapshot.NoStack)
		}
		return locCell(g.Location)
	}}
	waiting := column{head: "WAITING", cell: waitCell}
	stack := column{head: "STACK", drop: 2, cell: func(g *snapshot.Group) cell { return text(humanBytes(g.StackBytes)) }}
	examples := column{head: "EXAMPLES", cut: keepWords, shrink: 1, minWidth: 8, drop: 1, cell: examplesCell}
	switch k.Kind {
	case "start":
		return []column{count, start, state, created, waiting, stack, examples}
	case "wait":
		return []column{count, state, created, start, waiting, stack, examples}
	case "location":
		return []column{count, location, state, created, waiting, stack, examples}
	case "label":
		label := column{head: "LABEL " + Printable(k.Label), cut: keepStart, shrink: 4, minWidth: 12, cell: labelCell}
		return []column{count, label, state, created, start, waiting, stack, examples}
	case "parent":
		parent := column{head: "PARENT CREATED AT", cut: keepLoc, shrink: 4, minWidth: 20, cell: parentCell}
		parents := column{head: "PARENTS", cut: keepWords, shrink: 1, minWidth: 8, drop: 1, cell: func(g *snapshot.Group) cell { return idsCell(g.Parents) }}
		return []column{count, parent, parents, state, created, start, waiting, stack, examples}
	case "object":
		return objectColumns(count, state, created, start, waiting, stack, examples)
	}
	created.head = "CREATED AT (go statement)"
	return []column{count, state, created, start, waiting, stack, examples}
}

// stateCell is the dominant state, plus "+N STATE" for a second state or "+N other"
// for several.
func stateCell(g *snapshot.Group) string { return stateParts(g).String() }

// stateParts is stateCell in parts. Running goroutines are green: the ones doing work.
func stateParts(g *snapshot.Group) cell {
	if len(g.States) == 0 {
		return text("-")
	}
	c := cell{main: Printable(g.States[0].String()), restStyle: dim}
	if g.States[0].Status == snapshot.StatusRunning {
		c.style = green
	}
	rest := g.Count - g.States[0].Count
	switch {
	case len(g.States) == 2:
		c.sep, c.rest = " ", fmt.Sprintf("+%s %s", thousands(int64(rest)), Printable(g.States[1].String()))
	case len(g.States) > 2:
		c.sep, c.rest = " ", fmt.Sprintf("+%s other", thousands(int64(rest)))
	}
	return c
}

// waitCell is the longest wait in the group: yellow from a minute, red from an hour, the
// waits that leaks are made of.
func waitCell(g *snapshot.Group) cell {
	c := text(humanWait(g.MaxWaitSeconds))
	switch {
	case g.MaxWaitSeconds >= 3600:
		c.style = red
	case g.MaxWaitSeconds >= 60:
		c.style = yellow
	}
	return c
}

// createdCell is the group's go statement: "func  dir/file.go:line".
func createdCell(g *snapshot.Group) string { return createdParts(g).String() }

func createdParts(g *snapshot.Group) cell {
	if g.Origin == nil {
		return text("(no go statement)")
	}
	return locCell(g.Origin)
}

func labelCell(g *snapshot.Group) cell {
	if g.LabelValue != "" {
		return text(g.LabelValue)
	}
	if strings.HasPrefix(g.Key, "(") { // GroupBy's text for goroutines without the label
		return text("(none)")
	}
	return text(`""`)
}

func examplesCell(g *snapshot.Group) cell { return idsCell(g.Examples) }

// idsCell is goroutine ids, "18 19 20"; "-" for none.
func idsCell(ids []int64) cell {
	if len(ids) == 0 {
		return text("-")
	}
	t := make([]string, len(ids))
	for i, id := range ids {
		t[i] = strconv.FormatInt(id, 10)
	}
	return cell{main: strings.Join(t, " "), style: dim}
}

// parentCell is, under key parent, the go statement that created the members' parents.
func parentCell(g *snapshot.Group) cell {
	switch {
	case g.ParentOrigin != nil:
		return locCell(g.ParentOrigin)
	case strings.HasPrefix(g.Key, "("): // snapshot.NoParent, snapshot.ParentGone
		return text(g.Key)
	case g.ParentStart != nil && g.ParentStart.Func == "runtime.main":
		return text("(main goroutine)")
	}
	return text("(no go statement)")
}

const gap = "  "

func writeTable(b *bytes.Buffer, s *snapshot.Snapshot, groups []snapshot.Group, opt Options) error {
	cols := columns(opt.by)
	if c, ok := leakColumn(s); ok {
		cols = append(cols[:1], append([]column{c}, cols[1:]...)...)
	}
	cols = withSeen(cols, s)
	cells := make([][]cell, len(groups))
	for r := range groups {
		cells[r] = make([]cell, len(cols))
		for i, c := range cols {
			cells[r][i] = c.cell(&groups[r])
		}
	}
	suffixPaths(cells)
	width := make([]int, len(cols))
	for i, c := range cols {
		width[i] = runes(c.head)
		for r := range cells {
			width[i] = max(width[i], runes(cells[r][i].String()))
		}
	}
	if opt.Width > 0 {
		keep := fit(cols, width, cells, opt.Width)
		cols, width = kept(cols, keep), kept(width, keep)
		for r := range cells {
			cells[r] = kept(cells[r], keep)
		}
	}
	heads := make([]cell, len(cols))
	for i, c := range cols {
		heads[i] = cell{main: c.head, style: bold}
		if c.cut != noCut {
			heads[i] = fitCell(heads[i], width[i], keepWords)
		}
	}
	writeRow(b, cols, width, heads, opt.Color)
	for r := range groups {
		for i, c := range cols {
			cells[r][i] = fitCell(cells[r][i], width[i], c.cut)
		}
		writeRow(b, cols, width, cells[r], opt.Color)
		if opt.Verbose {
			if err := writeDetail(b, s, &groups[r], opt); err != nil {
				return err
			}
		}
	}
	return nil
}

// kept is xs without the elements keep says to leave out.
func kept[T any](xs []T, keep []bool) []T {
	var out []T
	for i, x := range xs {
		if keep[i] {
			out = append(out, x)
		}
	}
	return out
}

// fit narrows the columns, and leaves some out, until a row fits in total runes; it
// returns which columns stay. The go statement's file:line is what the table is read
// for, so it goes last. In order: the columns that may be cut narrow in their shrink
// order down to their minWidth (function names shorten; a location keeps its
// file:line and at least minFunc runes of its function); then the columns with a drop
// order are left out (EXAMPLES, STACK, SEEN; START under --by object); then the cut
// columns narrow to a few runes, the locations to their file:line, a key column (WAITS
// ON) to a few runes; and only then does a file:line lose its start.
func fit(cols []column, width []int, cells [][]cell, total int) []bool {
	keep := make([]bool, len(cols))
	for i := range keep {
		keep[i] = true
	}
	// floor: the narrowest a column gets before file:lines are cut; at: its file:lines'.
	floor, at := make([]int, len(cols)), make([]int, len(cols))
	for i, c := range cols {
		floor[i] = min(width[i], max(c.minWidth, 4))
		if c.cut != keepLoc {
			continue
		}
		floor[i] = 0
		for r := range cells {
			cl := cells[r][i]
			at[i] = max(at[i], runes(cl.rest))
			floor[i] = max(floor[i], runes(cl.rest)+runes(cl.sep)+funcFloor(cl.main))
		}
		floor[i] = min(width[i], max(floor[i], at[i]))
	}
	// over is how much the kept columns are too wide; narrowing them to their floors
	// saves up to savable.
	over, savable := func() int {
		n := -total - len(gap)
		for i, w := range width {
			if keep[i] {
				n += w + len(gap)
			}
		}
		return n
	}, func() int {
		n := 0
		for i, c := range cols {
			if keep[i] && c.shrink > 0 && c.cut != noCut {
				n += width[i] - floor[i]
			}
		}
		return n
	}
	for prio := 1; prio <= 4; prio++ { // leave out only what narrowing cannot make room for
		for i, c := range cols {
			if c.drop == prio && over() > savable() {
				keep[i] = false
			}
		}
	}
	o := over()
	for prio := 1; o > 0 && prio <= 6; prio++ {
		for i, c := range cols {
			if c.shrink == prio && c.cut != noCut && keep[i] && o > 0 && width[i] > floor[i] {
				d := min(o, width[i]-floor[i])
				width[i] -= d
				o -= d
			}
		}
	}
	const few = 4
	for i, c := range cols { // the widest first
		if c.cut != noCut && c.cut != keepLoc {
			floor[i] = min(width[i], few)
		}
	}
	narrowWidest(cols, width, keep, &o, func(i int) int { return floor[i] }, func(c column) bool { return c.cut != keepLoc && !c.key })
	narrowWidest(cols, width, keep, &o, func(i int) int { return min(width[i], at[i]) }, func(c column) bool { return c.cut == keepLoc })
	narrowWidest(cols, width, keep, &o, func(i int) int { return floor[i] }, func(c column) bool { return c.key })
	narrowWidest(cols, width, keep, &o, func(i int) int { return min(width[i], few) }, func(c column) bool { return c.cut == keepLoc })
	return keep
}

// funcFloor is how narrow a location's function gets before columns are left out: its
// last element whole ("…startGoRoutine", "…func1"), or minFunc runes.
func funcFloor(fn string) int {
	elems := elements(fn)
	return min(runes(fn), max(minFunc, 1+runes(elems[len(elems)-1])))
}

// narrowWidest takes a rune at a time from the widest kept column that which allows,
// down to floor, until the row fits or none is left to narrow (the row stays too wide).
func narrowWidest(cols []column, width []int, keep []bool, over *int, floor func(int) int, which func(column) bool) {
	for ; *over > 0; *over-- {
		widest := -1
		for i, c := range cols {
			if keep[i] && c.cut != noCut && which(c) && width[i] > floor(i) && (widest < 0 || width[i] > width[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			return
		}
		width[widest]--
	}
}

// writeRow writes one row of fitted cells, padded to the column widths, in colour when
// color is set. Trailing blanks are not written.
func writeRow(b *bytes.Buffer, cols []column, width []int, cells []cell, color bool) {
	last := len(cols) - 1
	for last > 0 && cells[last].String() == "" {
		last--
	}
	for i, c := range cols[:last+1] {
		t := cells[i]
		pad := strings.Repeat(" ", max(0, width[i]-runes(t.String())))
		painted := paint(color, t.style, t.main) + paint(color, t.restStyle, t.sep+t.rest)
		if i > 0 {
			b.WriteString(gap)
		}
		switch {
		case c.right:
			b.WriteString(pad + painted)
		case i == last:
			b.WriteString(painted)
		default:
			b.WriteString(painted + pad)
		}
	}
	b.WriteByte('\n')
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// writeDetail writes a group's state breakdown and its representative goroutine, as
// a Go traceback would show it.
func writeDetail(b *bytes.Buffer, s *snapshot.Snapshot, g *snapshot.Group, opt Options) error {
	if g.Rep < 0 || g.Rep >= len(s.Goroutines) {
		return fmt.Errorf("render group %s: representative #%d is not among the snapshot's %d goroutines: group the goroutines of the snapshot you render", strconv.Quote(g.Key), g.Rep, len(s.Goroutines))
	}
	const in = "    "
	states := make([]string, len(g.States))
	for i, st := range g.States {
		states[i] = thousands(int64(st.Count)) + " " + Printable(st.String())
	}
	for i, l := range wrap(strings.Fields("states: "+strings.Join(states, ", ")), " ", max(0, opt.Width-len(in))) {
		if i > 0 {
			l = "  " + l
		}
		b.WriteString(in + l + "\n")
	}
	rep := &s.Goroutines[g.Rep]
	head := "representative goroutine (id unknown)"
	if rep.ID != 0 {
		head = "representative goroutine " + strconv.FormatInt(rep.ID, 10)
	}
	st := string(rep.Status)
	if rep.WaitReason != "" {
		st += ": " + rep.WaitReason
	}
	if rep.WaitSeconds > 0 {
		st += ", " + humanWait(rep.WaitSeconds)
	}
	b.WriteString(in + fitLine(head+" ["+Printable(st)+"]:", opt.Width, len(in), keepStart) + "\n")
	if len(rep.Frames) == 0 {
		b.WriteString(in + snapshot.NoStack + "\n")
		if rep.Start != nil {
			writeFrame(b, in, "start ", rep.Start, opt)
		}
	}
	for i := range rep.Frames {
		writeFrame(b, in, "", &rep.Frames[i], opt)
	}
	if rep.Origin != nil {
		writeFrame(b, in, "created by ", rep.Origin, opt)
	} else {
		b.WriteString(in + snapshot.NoOrigin + "\n")
	}
	b.WriteByte('\n')
	return nil
}

// writeFrame writes a frame as a Go traceback does; in colour, its file:line is dim.
// Fitted to opt.Width, a function or file too long loses its start.
func writeFrame(b *bytes.Buffer, in, prefix string, l *snapshot.Location, opt Options) {
	fn := Printable(l.Func)
	if l.Inlined {
		fn += " (inlined)"
	}
	b.WriteString(in + prefix + fitLine(fn, opt.Width, len(in)+runes(prefix), keepFunc) + "\n")
	if l.File != "" {
		at := fitLine(Printable(l.File)+":"+strconv.Itoa(l.Line), opt.Width, len(in)+4, keepLoc)
		b.WriteString(in + "    " + paint(opt.Color, dim, at) + "\n")
	}
}

// fitLine cuts t as cu says to what is left of width after used runes; width 0 does
// not fit.
func fitLine(t string, width, used int, cu cut) string {
	if width <= 0 {
		return t
	}
	return shorten(t, max(width-used, 2), cu)
}
