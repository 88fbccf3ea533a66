package dap

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	godap "github.com/google/go-dap"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// view is one snapshot as the IDE sees it: threads, frames and variable handles. Frame
// ids and variable references are valid until the next snapshot replaces the view.
type view struct {
	snap    *snapshot.Snapshot
	shown   []snapshot.Goroutine // the goroutines shown (system ones left out unless asked)
	hidden  int                  // system goroutines left out
	key     snapshot.Key
	groups  []snapshot.Group // of shown by key
	byKey   snapshot.Grouped // shown, grouped by key: groups, with the snapshot they index
	byID    map[int64]int    // goroutine id → index in shown
	grouped bool             // threads are groups, not goroutines
	threads []thread
	thread  map[int]thread // by DAP thread id

	frames  []frameRef
	frameOf map[[2]int]int // (thread id, frame index) → frame id
	handles []handle       // variablesReference n is handles[n-1]
}

// thread is a DAP thread: a group or a goroutine of the view.
type thread struct {
	id    int
	group int // index in groups, or -1
	g     int // index in shown, or -1
}

type frameRef struct {
	thread thread
}

// threadIDs keeps a group's or a goroutine's DAP thread id the same across snapshots of
// a session, so the IDE keeps its selection.
type threadIDs map[string]int

// maxThreadIDs bounds the table for sessions that refresh a churning process for hours.
const maxThreadIDs = 1 << 20

func (t threadIDs) of(key string) int {
	if id, ok := t[key]; ok {
		return id
	}
	if len(t) >= maxThreadIDs {
		clear(t)
	}
	id := len(t) + 1
	t[key] = id
	return id
}

func newView(snap *snapshot.Snapshot, o *opened, ids threadIDs) *view {
	v := &view{snap: snap, key: o.key, byID: map[int64]int{}, thread: map[int]thread{}, frameOf: map[[2]int]int{}}
	if o.system {
		v.shown = snap.Goroutines
	} else {
		v.shown, v.hidden = snapshot.WithoutSystem(snap.Goroutines)
	}
	for i, g := range v.shown {
		if g.ID != 0 {
			v.byID[g.ID] = i
		}
	}
	shown := *snap // the snapshot of the goroutines shown, for the REPL's tables
	shown.Goroutines = v.shown
	v.byKey = snapshot.GroupSnapshot(&shown, o.key)
	v.groups = v.byKey.Groups()
	// A dump without goroutine ids (debug=1) can only be shown by group.
	v.grouped = o.threshold < 0 || len(v.shown) > o.threshold || len(v.byID) < len(v.shown)
	if v.grouped {
		for i, grp := range v.groups {
			v.add(thread{id: ids.of("group " + o.key.String() + " " + grp.Key), group: i, g: -1})
		}
	} else {
		order := make([]int, len(v.shown))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return v.shown[order[a]].ID < v.shown[order[b]].ID })
		for _, i := range order {
			v.add(thread{id: ids.of("goroutine " + strconv.FormatInt(v.shown[i].ID, 10)), group: -1, g: i})
		}
	}
	return v
}

func (v *view) add(t thread) {
	v.threads = append(v.threads, t)
	v.thread[t.id] = t
}

// groupName is a group as a thread list shows it: "1,993 × chan receive — main.go:94
// main.blockRecv".
func (v *view) groupName(grp *snapshot.Group) string {
	state := ""
	if len(grp.States) > 0 {
		state = grp.States[0].String()
		if len(grp.States) > 1 {
			state += " …"
		}
	}
	where := grp.Key
	if v.key.Kind == snapshot.ByOrigin || v.key.Kind == "" {
		where = shortLoc(grp.Origin)
		if grp.Origin == nil {
			where = snapshot.NoOrigin
		}
		if grp.Start != nil {
			where += " " + grp.Start.Func
		}
	}
	return fmt.Sprintf("%s × %s — %s", comma(grp.Count), state, where)
}

// goroutineName is a goroutine as a thread list shows it.
func goroutineName(g *snapshot.Goroutine) string {
	where := shortLoc(g.Origin)
	if g.Start != nil {
		where += " " + g.Start.Func
	}
	return fmt.Sprintf("goroutine %d · %s — %s", g.ID, snapshot.StateText(g.Status, g.WaitReason), strings.TrimSpace(where))
}

// shortLoc is "main.go:94", the way a thread list has room for.
func shortLoc(l *snapshot.Location) string {
	if l == nil {
		return ""
	}
	if l.File == "" {
		return l.Func
	}
	return filepath.Base(l.File) + ":" + strconv.Itoa(l.Line)
}

func (s *session) onThreads(req *godap.Request, v *view) {
	out := make([]godap.Thread, len(v.threads))
	for i, t := range v.threads {
		if t.group >= 0 {
			out[i] = godap.Thread{Id: t.id, Name: v.groupName(&v.groups[t.group])}
		} else {
			out[i] = godap.Thread{Id: t.id, Name: goroutineName(&v.shown[t.g])}
		}
	}
	s.w.send(&godap.ThreadsResponse{Response: response(req), Body: godap.ThreadsResponseBody{Threads: out}})
}

// stackOf is the goroutine whose stack a thread shows: its own, or its group's
// representative.
func (v *view) stackOf(t thread) *snapshot.Goroutine {
	if t.group >= 0 {
		return &v.shown[v.groups[t.group].Rep]
	}
	return &v.shown[t.g]
}

// framesOf are the frames a goroutine's stack shows: its own frames (or, without a copied
// stack, its start function), then the go statement that created it.
func framesOf(g *snapshot.Goroutine) []godap.StackFrame {
	var out []godap.StackFrame
	locs := g.Frames
	if len(locs) == 0 && g.Start != nil {
		locs = []snapshot.Location{*g.Start}
	}
	for _, l := range locs {
		f := godap.StackFrame{Name: l.Func, Line: l.Line, Column: 1, Source: source(l.File, isRuntime(l.Func))}
		if l.Inlined {
			f.Name += " (inlined)"
		}
		if f.Source == nil {
			f.PresentationHint = "subtle"
		}
		out = append(out, f)
	}
	if g.Origin != nil {
		o := g.Origin
		out = append(out, godap.StackFrame{Name: "created by " + o.Func + " (go statement)", Line: o.Line, Column: 1,
			Source: source(o.File, false)})
	}
	return out
}

func isRuntime(fn string) bool {
	return strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "internal/runtime/") || strings.HasPrefix(fn, "runtime/internal/")
}

// source is a frame's file for the IDE: a path only when the file is there to open
// (a -trimpath build or another machine's paths name files the IDE cannot open).
func source(file string, runtime bool) *godap.Source {
	if file == "" {
		return nil
	}
	src := &godap.Source{Name: filepath.Base(file)}
	if exists(file) {
		src.Path = file
	} else {
		src.PresentationHint = "deemphasize"
		src.Origin = "not on this machine: " + file
	}
	if runtime {
		src.PresentationHint = "deemphasize"
	}
	return src
}

var statCache sync.Map // file → bool

func exists(file string) bool {
	if !filepath.IsAbs(file) {
		return false
	}
	if ok, hit := statCache.Load(file); hit {
		return ok.(bool)
	}
	st, err := os.Stat(file)
	ok := err == nil && st.Mode().IsRegular()
	statCache.Store(file, ok)
	return ok
}

func (s *session) onStackTrace(m *godap.StackTraceRequest, v *view) {
	t, ok := v.thread[m.Arguments.ThreadId]
	if !ok {
		s.fail(m.Seq, m.Command, errBadArgs, userError("stackTrace: no thread %d in this snapshot", m.Arguments.ThreadId))
		return
	}
	all := framesOf(v.stackOf(t))
	start := max(m.Arguments.StartFrame, 0)
	end := len(all)
	if m.Arguments.Levels > 0 {
		end = min(end, start+m.Arguments.Levels)
	}
	var out []godap.StackFrame
	for i := start; i < end; i++ {
		f := all[i]
		f.Id = v.frameID(t, i)
		out = append(out, f)
	}
	if out == nil {
		out = []godap.StackFrame{}
	}
	s.w.send(&godap.StackTraceResponse{Response: response(&m.Request),
		Body: godap.StackTraceResponseBody{StackFrames: out, TotalFrames: len(all)}})
}

func (v *view) frameID(t thread, i int) int {
	k := [2]int{t.id, i}
	if id, ok := v.frameOf[k]; ok {
		return id
	}
	v.frames = append(v.frames, frameRef{thread: t})
	id := len(v.frames)
	v.frameOf[k] = id
	return id
}

// comma writes n with thousands separators: 1,993.
func comma(n int) string {
	s := strconv.Itoa(n)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return sign + s
}
