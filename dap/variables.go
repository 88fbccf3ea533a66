package dap

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	godap "github.com/google/go-dap"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// handle is what a variablesReference expands to: named children, or an indexed list
// the IDE pages through (a group's goroutines may be hundreds of thousands).
type handle struct {
	named   func() []godap.Variable
	indexed int
	item    func(i int) godap.Variable
}

func (v *view) ref(h handle) int {
	v.handles = append(v.handles, h)
	return len(v.handles)
}

func (s *session) onScopes(m *godap.ScopesRequest, v *view) {
	id := m.Arguments.FrameId
	if id <= 0 || id > len(v.frames) {
		s.fail(m.Seq, m.Command, errBadArgs, userError("scopes: no frame %d in this snapshot", id))
		return
	}
	t := v.frames[id-1].thread
	var scopes []godap.Scope
	if t.group >= 0 {
		grp := &v.groups[t.group]
		scopes = append(scopes, godap.Scope{Name: "Group", VariablesReference: v.groupRef(grp), NamedVariables: 10})
		rep := v.stackOf(t)
		scopes = append(scopes, godap.Scope{Name: fmt.Sprintf("Goroutine %d (representative)", rep.ID), VariablesReference: v.goroutineRef(rep)})
	} else {
		g := &v.shown[t.g]
		scopes = append(scopes, godap.Scope{Name: fmt.Sprintf("Goroutine %d", g.ID), VariablesReference: v.goroutineRef(g)})
	}
	scopes = append(scopes,
		godap.Scope{Name: fmt.Sprintf("Groups (%s, by %s)", comma(len(v.groups)), v.key), VariablesReference: v.groupsRef(v.groups), IndexedVariables: len(v.groups)},
		godap.Scope{Name: "Snapshot", VariablesReference: v.snapshotRef()},
	)
	s.w.send(&godap.ScopesResponse{Response: response(&m.Request), Body: godap.ScopesResponseBody{Scopes: scopes}})
}

func (s *session) onVariables(m *godap.VariablesRequest, v *view) {
	n := m.Arguments.VariablesReference
	if n <= 0 || n > len(v.handles) {
		s.fail(m.Seq, m.Command, errBadArgs, userError("variables: reference %d is not from this snapshot", n))
		return
	}
	h := v.handles[n-1]
	var out []godap.Variable
	if m.Arguments.Filter != "indexed" && h.named != nil {
		out = append(out, h.named()...)
	}
	if m.Arguments.Filter != "named" && h.item != nil {
		start := min(max(m.Arguments.Start, 0), h.indexed)
		end := h.indexed
		if m.Arguments.Count > 0 {
			end = min(end, start+m.Arguments.Count)
		}
		for i := start; i < end; i++ {
			out = append(out, h.item(i))
		}
	}
	if out == nil {
		out = []godap.Variable{}
	}
	s.w.send(&godap.VariablesResponse{Response: response(&m.Request), Body: godap.VariablesResponseBody{Variables: out}})
}

func leaf(name, value string) godap.Variable { return godap.Variable{Name: name, Value: value} }

// goroutineVar is one goroutine as an expandable variable.
func (v *view) goroutineVar(name string, g *snapshot.Goroutine) godap.Variable {
	where := shortLoc(g.Origin)
	if g.Start != nil {
		where += " " + g.Start.Func
	}
	value := fmt.Sprintf("%s — %s", snapshot.StateText(g.Status, g.WaitReason), strings.TrimSpace(where))
	if g.WaitSeconds > 0 {
		value += ", waiting " + waitText(g.WaitSeconds)
	}
	return godap.Variable{Name: name, Value: value, Type: "goroutine", VariablesReference: v.goroutineRef(g)}
}

// goroutineRef expands to a goroutine's fields.
func (v *view) goroutineRef(g *snapshot.Goroutine) int {
	return v.ref(handle{named: func() []godap.Variable {
		out := []godap.Variable{
			leaf("id", idText(g.ID)),
			leaf("status", g.Status.String()),
			leaf("waitReason", orDash(g.WaitReason)),
			leaf("wait", waitOrUnknown(g)),
			leaf("origin", orNone(g.Origin, snapshot.NoOrigin)),
			leaf("start", orNone(g.Start, "(unknown)")),
		}
		switch p, ok := v.byID[g.ParentID]; {
		case g.ParentID == 0:
			out = append(out, leaf("parent", "(unknown)"))
		case ok:
			out = append(out, v.goroutineVar("parent", &v.shown[p]))
			out[len(out)-1].Value = "goroutine " + idText(g.ParentID) + ": " + out[len(out)-1].Value
		default:
			out = append(out, leaf("parent", "goroutine "+idText(g.ParentID)+" (exited, or not shown)"))
		}
		out = append(out, v.labelsVar(g.Labels))
		if loc := snapshot.TopUserFrame(g); loc != nil {
			out = append(out, leaf("location", loc.String()))
		}
		if g.StackBytes > 0 {
			out = append(out, leaf("stackBytes", strconv.FormatInt(g.StackBytes, 10)))
		}
		if g.LockedToThread {
			out = append(out, leaf("lockedToThread", "true"))
		}
		if g.System {
			out = append(out, leaf("system", "true"))
		}
		if g.Changed {
			out = append(out, leaf("changed", "true: its state changed while it was read (freeze never)"))
		}
		if g.Leak != "" {
			out = append(out, leaf("leak", g.Leak.String()))
		}
		return out
	}})
}

func (v *view) labelsVar(labels map[string]string) godap.Variable {
	if len(labels) == 0 {
		return leaf("labels", "{}")
	}
	keys := slices.Sorted(maps.Keys(labels))
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+labels[k])
	}
	return godap.Variable{Name: "labels", Value: "{" + strings.Join(parts, ", ") + "}", NamedVariables: len(keys),
		VariablesReference: v.ref(handle{named: func() []godap.Variable {
			out := make([]godap.Variable, len(keys))
			for i, k := range keys {
				out[i] = leaf(k, labels[k])
			}
			return out
		}})}
}

// groupVar is one group as an expandable variable.
func (v *view) groupVar(name string, grp *snapshot.Group) godap.Variable {
	return godap.Variable{Name: name, Value: v.groupName(grp), Type: "group", VariablesReference: v.groupRef(grp)}
}

// groupRef expands to a group's fields and its goroutines.
func (v *view) groupRef(grp *snapshot.Group) int {
	return v.ref(handle{named: func() []godap.Variable {
		out := []godap.Variable{
			leaf("key", grp.Key),
			leaf("count", strconv.Itoa(grp.Count)),
			leaf("origin", orNone(grp.Origin, snapshot.NoOrigin)),
			leaf("start", orNone(grp.Start, "(unknown)")),
		}
		var states []string
		for _, st := range grp.States {
			states = append(states, fmt.Sprintf("%s %s", comma(st.Count), st))
		}
		out = append(out, leaf("states", strings.Join(states, ", ")))
		if grp.MaxWaitSeconds > 0 {
			out = append(out, leaf("longestWait", waitText(grp.MaxWaitSeconds)))
		}
		if grp.StackBytes > 0 {
			out = append(out, leaf("stackBytes", strconv.FormatInt(grp.StackBytes, 10)))
		}
		out = append(out, godap.Variable{Name: "goroutines", Value: comma(grp.Count) + " goroutines",
			IndexedVariables: len(grp.Members), VariablesReference: v.membersRef(grp)})
		return out
	}})
}

// membersRef is a group's goroutines, paged.
func (v *view) membersRef(grp *snapshot.Group) int {
	return v.ref(handle{indexed: len(grp.Members), item: func(i int) godap.Variable {
		g := &v.shown[grp.Members[i]]
		return v.goroutineVar("goroutine "+idText(g.ID), g)
	}})
}

// groupsRef is a list of groups, paged.
func (v *view) groupsRef(groups []snapshot.Group) int {
	return v.ref(handle{indexed: len(groups), item: func(i int) godap.Variable {
		return v.groupVar("["+strconv.Itoa(i)+"]", &groups[i])
	}})
}

func (v *view) snapshotRef() int {
	return v.ref(handle{named: func() []godap.Variable {
		src := v.snap.Source
		out := []godap.Variable{leaf("kind", src.Kind.String()), leaf("backend", src.Backend.String())}
		if src.Pid != 0 {
			out = append(out, leaf("pid", strconv.Itoa(src.Pid)))
		}
		if src.File != "" {
			out = append(out, leaf("file", src.File))
		}
		out = append(out,
			leaf("exe", orDash(src.Exe)),
			leaf("goVersion", orDash(src.GoVersion)),
			leaf("takenAt", src.TakenAt.Local().Format(time.RFC3339Nano)),
			leaf("goroutines", comma(len(v.snap.Goroutines))),
			leaf("systemHidden", comma(v.hidden)),
		)
		if src.Kind == snapshot.KindLive {
			out = append(out, leaf("freeze", orDash(src.Freeze.String())), leaf("frozen", fmt.Sprintf("%d µs", src.FreezeMicros)))
		}
		if src.Partial {
			out = append(out, leaf("partial", "true"))
		}
		for i, w := range v.snap.Warnings {
			out = append(out, leaf("warning "+strconv.Itoa(i+1), w))
		}
		return out
	}})
}

func idText(id int64) string {
	if id == 0 {
		return "?"
	}
	return strconv.FormatInt(id, 10)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orNone(l *snapshot.Location, none string) string {
	if l == nil {
		return none
	}
	return l.String()
}

func waitOrUnknown(g *snapshot.Goroutine) string {
	if g.WaitSeconds > 0 {
		return waitText(g.WaitSeconds)
	}
	if g.Status == snapshot.StatusWaiting {
		return "unknown (no two garbage collections have seen it blocked yet, or the source has no clock)"
	}
	return "-"
}

// waitText is a wait as people say it: 14m, 2h3m, 45s.
func waitText(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d >= time.Hour:
		return d.Truncate(time.Minute).String()
	case d >= time.Minute:
		return d.Truncate(time.Second).String()
	}
	return d.Round(time.Millisecond).String()
}
