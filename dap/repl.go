package dap

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	godap "github.com/google/go-dap"

	"github.com/gorigin-dev/gorigin/report"
	"github.com/gorigin-dev/gorigin/snapshot"
)

const replHelp = `gorigin commands:
  groups [--by origin|start|location|wait|label:KEY|parent]   the goroutines grouped (default: as the thread list)
  goroutine N                                                 one goroutine: state, origin, parent, labels, stack
  refresh                                                     take a new snapshot
  diff                                                        what grew since the previous snapshot (refresh first)
  help                                                        this text`

// onEvaluate runs a REPL command. gorigin has no variables of the target to evaluate:
// watch and hover expressions get an error that says what it does instead.
func (s *session) onEvaluate(m *godap.EvaluateRequest) {
	fields := strings.Fields(m.Arguments.Expression)
	if len(fields) == 0 {
		fields = []string{"help"}
	}
	if fields[0] != "help" && s.cur == nil {
		s.need(&m.Request)
		return
	}
	var (
		result string
		ref    int
		err    error
	)
	switch fields[0] {
	case "help", "?":
		result = replHelp
	case "groups":
		result, ref, err = s.evalGroups(fields[1:])
	case "goroutine", "g":
		result, ref, err = s.evalGoroutine(fields[1:])
	case "refresh":
		if err = s.resnapQuiet(); err == nil {
			result = fmt.Sprintf("new snapshot: %s goroutines in %s groups", comma(len(s.cur.snap.Goroutines)), comma(len(s.cur.groups)))
		}
	case "diff":
		result, err = s.evalDiff()
	default:
		err = userError("%q: gorigin's REPL knows groups, goroutine N, refresh, diff and help (it cannot evaluate Go expressions)", m.Arguments.Expression)
	}
	if err != nil {
		s.fail(m.Seq, m.Command, errBadArgs, err)
		return
	}
	s.w.send(&godap.EvaluateResponse{Response: response(&m.Request), Body: godap.EvaluateResponseBody{Result: result, VariablesReference: ref}})
	if fields[0] == "refresh" {
		s.stopped("pause")
	}
}

// resnapQuiet takes a new snapshot; the stopped event follows the evaluate response.
func (s *session) resnapQuiet() error {
	v, err := s.take(s.opened)
	if err != nil {
		return err
	}
	s.show(v)
	return nil
}

func (s *session) evalGroups(args []string) (string, int, error) {
	v := s.cur
	key := v.key
	switch {
	case len(args) == 0:
	case len(args) == 2 && (args[0] == "--by" || args[0] == "-by"):
		k, err := snapshot.ParseKey(args[1])
		if err != nil {
			return "", 0, err
		}
		key = k
	case len(args) == 1 && strings.HasPrefix(args[0], "--by="):
		k, err := snapshot.ParseKey(strings.TrimPrefix(args[0], "--by="))
		if err != nil {
			return "", 0, err
		}
		key = k
	default:
		return "", 0, userError("usage: groups [--by origin|start|location|wait|label:KEY|parent]")
	}
	grouped := v.byKey
	if key != v.key {
		grouped = snapshot.GroupSnapshot(grouped.Snapshot(), key)
	}
	var b bytes.Buffer
	if err := report.Render(&b, "text", grouped, report.Options{SystemHidden: v.hidden}); err != nil {
		return "", 0, err
	}
	return strings.TrimRight(b.String(), "\n"), v.groupsRef(grouped.Groups()), nil
}

func (s *session) evalGoroutine(args []string) (string, int, error) {
	v := s.cur
	if len(args) != 1 {
		return "", 0, userError("usage: goroutine N")
	}
	id, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil {
		return "", 0, userError("goroutine %q: want a goroutine id", args[0])
	}
	i, ok := v.byID[id]
	if !ok {
		if _, sys := systemGoroutine(v.snap, id); sys {
			return "", 0, userError("goroutine %d is one of the runtime's own: attach with \"system\": true to see it", id)
		}
		return "", 0, userError("no goroutine %d in this snapshot", id)
	}
	g := &v.shown[i]
	var b strings.Builder
	b.WriteString(goroutineName(g))
	for _, f := range framesOf(g) {
		fmt.Fprintf(&b, "\n  %s", f.Name)
		if f.Source != nil {
			file := f.Source.Path
			if file == "" {
				file = f.Source.Name
			}
			fmt.Fprintf(&b, "\n      %s:%d", file, f.Line)
		}
	}
	return b.String(), v.goroutineRef(g), nil
}

func systemGoroutine(snap *snapshot.Snapshot, id int64) (*snapshot.Goroutine, bool) {
	for i := range snap.Goroutines {
		if snap.Goroutines[i].ID == id {
			return &snap.Goroutines[i], snap.Goroutines[i].System
		}
	}
	return nil, false
}

// evalDiff compares the previous snapshot with the current one, group by group.
func (s *session) evalDiff() (string, error) {
	if s.prev == nil {
		return "", userError("diff needs two snapshots: run refresh (or continue) first, then diff")
	}
	prev, cur := s.prev, s.cur
	d := snapshot.Compare(prev.snap, cur.snap, prev.shown, cur.shown, cur.key, snapshot.DiffOptions{})
	var b strings.Builder
	fmt.Fprintf(&b, "%s → %s goroutines (%+d) between %s and %s, by %s",
		comma(d.BeforeCount), comma(d.AfterCount), d.AfterCount-d.BeforeCount,
		prev.snap.Source.TakenAt.Local().Format("15:04:05.000"), cur.snap.Source.TakenAt.Local().Format("15:04:05.000"), d.By)
	if d.IDsKnown {
		fmt.Fprintf(&b, "; %s new, %s gone", comma(d.New), comma(d.Gone))
	}
	b.WriteString("\n")
	const maxRows = 50
	changed := 0
	for _, g := range d.Groups {
		if g.Delta == 0 && g.New == 0 {
			continue
		}
		changed++
		if changed > maxRows {
			continue
		}
		fmt.Fprintf(&b, "%+7d  %6s → %-6s", g.Delta, comma(g.Before), comma(g.After))
		if d.IDsKnown {
			fmt.Fprintf(&b, "  %5s new", comma(g.New))
		}
		fmt.Fprintf(&b, "  %s\n", g.Key)
	}
	switch {
	case changed == 0:
		b.WriteString("no group grew, shrank or changed members")
	case changed > maxRows:
		fmt.Fprintf(&b, "… and %d more groups changed", changed-maxRows)
	}
	return strings.TrimRight(b.String(), "\n"), nil
}
