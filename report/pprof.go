package report

import (
	"fmt"
	"io"
	"slices"

	"github.com/google/pprof/profile"
	"github.com/gorigin-dev/gorigin/internal/terminal"
	"github.com/gorigin-dev/gorigin/snapshot"
)

func init() {
	register("pprof", func(w io.Writer, s *snapshot.Snapshot, _ []snapshot.Group, _ Options) error {
		if terminal.Is(w) {
			return ErrBinaryToTerminal
		}
		p, err := Profile(s)
		if err != nil {
			return err
		}
		return p.Write(w)
	})
}

// Sample label keys of the pprof format. A goroutine's own pprof labels keep their keys,
// unless one of these takes it: then the key gets the prefix "label:".
const (
	LabelStatus = "status"  // the goroutine's status: waiting, running, ...
	LabelWait   = "wait"    // the wait reason of a waiting goroutine: "chan receive", ...
	LabelOrigin = "origin"  // the go statement: "main.main /src/main.go:94"
	LabelStart  = "start"   // the start function
	LabelLeak   = "leak"    // the leak verdict, after leak analysis: leaked, live, unknown
	NumWaited   = "waited"  // numeric: how long the goroutine has waited, in seconds
	maxAncestry = 1 << 10   // cap on the parent chain walked per goroutine
	unitSeconds = "seconds" // pprof's name for the unit of NumWaited
)

// Profile builds a pprof profile of s: every goroutine is one sample of value 1
// (goroutines/count) whose stack is its ancestry, leaf first: its own frames (or its start
// function when the snapshot has no stacks), then its go statement, then its parent's
// start function (when that is not the function holding the go statement) and go
// statement, and so on up to a goroutine without a parent in s. A flame graph of it is the
// spawn tree with counts. Status, wait reason, go statement, start function and the
// goroutine's own labels are sample labels, so pprof's -tagfocus and -tags work on them.
func Profile(s *snapshot.Snapshot) (*profile.Profile, error) {
	b := &profileBuilder{
		p: &profile.Profile{
			SampleType: []*profile.ValueType{{Type: "goroutines", Unit: "count"}},
			PeriodType: &profile.ValueType{Type: "goroutine", Unit: "count"},
			Period:     1,
			TimeNanos:  s.Source.TakenAt.UnixNano(),
		},
		locs:  map[locKey]*profile.Location{},
		funcs: map[funcKey]*profile.Function{},
		byID:  make(map[int64]*snapshot.Goroutine, len(s.Goroutines)),
	}
	// One mapping that says the locations are symbolised already, so that pprof does not
	// look for the binary to symbolise them.
	b.mapping = &profile.Mapping{ID: 1, File: s.Source.Exe, HasFunctions: true, HasFilenames: true, HasLineNumbers: true, HasInlineFrames: true}
	b.p.Mapping = []*profile.Mapping{b.mapping}
	if s.Source.TakenAt.IsZero() {
		b.p.TimeNanos = 0
	}
	b.p.Comments = append(b.p.Comments, "gorigin: goroutines by ancestry; "+sourceText(s.Source))
	for i := range s.Goroutines {
		if g := &s.Goroutines[i]; g.ID != 0 {
			b.byID[g.ID] = g
		}
	}
	for i := range s.Goroutines {
		b.p.Sample = append(b.p.Sample, b.sample(&s.Goroutines[i]))
	}
	if err := b.p.CheckValid(); err != nil {
		return nil, fmt.Errorf("build pprof profile: %w (a bug in gorigin: please report it)", err)
	}
	return b.p, nil
}

// sourceText names where a snapshot came from, for a profile comment or a title.
func sourceText(src snapshot.Source) string {
	t := string(src.Kind)
	switch {
	case src.Pid != 0:
		t = fmt.Sprintf("pid %d", src.Pid)
	case src.File != "":
		t += " " + src.File
	}
	if src.Exe != "" {
		t += " " + src.Exe
	}
	if src.GoVersion != "" {
		t += " " + src.GoVersion
	}
	return t
}

type locKey struct {
	fn, file string
	line     int
}

type funcKey struct{ fn, file string }

type profileBuilder struct {
	p     *profile.Profile
	locs  map[locKey]*profile.Location
	funcs map[funcKey]*profile.Function
	byID  map[int64]*snapshot.Goroutine
	// mapping is the profile's one mapping.
	mapping *profile.Mapping
}

func (b *profileBuilder) sample(g *snapshot.Goroutine) *profile.Sample {
	smp := &profile.Sample{Value: []int64{1}, Label: map[string][]string{LabelStatus: {string(g.Status)}}}
	if g.WaitReason != "" {
		smp.Label[LabelWait] = []string{g.WaitReason}
	}
	if g.Origin != nil {
		smp.Label[LabelOrigin] = []string{g.Origin.String()}
	} else {
		smp.Label[LabelOrigin] = []string{snapshot.NoOrigin}
	}
	if g.Start != nil {
		smp.Label[LabelStart] = []string{g.Start.Func}
	}
	if g.Leak != "" {
		smp.Label[LabelLeak] = []string{string(g.Leak)}
	}
	for _, k := range sortedKeys(g.Labels) {
		key := k
		if _, taken := smp.Label[key]; taken {
			key = "label:" + k
		}
		smp.Label[key] = []string{g.Labels[k]}
	}
	if g.WaitSeconds > 0 {
		smp.NumLabel = map[string][]int64{NumWaited: {int64(g.WaitSeconds)}}
		smp.NumUnit = map[string][]string{NumWaited: {unitSeconds}}
	}

	for i := range g.Frames {
		smp.Location = append(smp.Location, b.location(&g.Frames[i]))
	}
	if len(g.Frames) == 0 && g.Start != nil {
		smp.Location = append(smp.Location, b.location(g.Start))
	}
	seen := map[int64]bool{}
	for cur, depth := g, 0; cur != nil && depth < maxAncestry; depth++ {
		if cur.Origin == nil {
			break
		}
		smp.Location = append(smp.Location, b.location(cur.Origin))
		if cur.ID != 0 {
			seen[cur.ID] = true
		}
		parent := b.byID[cur.ParentID]
		if parent == nil || seen[parent.ID] {
			break
		}
		// The parent's start function is the root of the parent's own stack; show it
		// unless the go statement sits right in it.
		if parent.Start != nil && parent.Start.Func != cur.Origin.Func && parent.Origin != nil {
			smp.Location = append(smp.Location, b.location(parent.Start))
		}
		cur = parent
	}
	if len(smp.Location) == 0 {
		smp.Location = append(smp.Location, b.location(&snapshot.Location{Func: "(unknown)"}))
	}
	return smp
}

func (b *profileBuilder) location(l *snapshot.Location) *profile.Location {
	k := locKey{l.Func, l.File, l.Line}
	if loc := b.locs[k]; loc != nil {
		return loc
	}
	fk := funcKey{l.Func, l.File}
	fn := b.funcs[fk]
	if fn == nil {
		fn = &profile.Function{ID: uint64(len(b.p.Function) + 1), Name: l.Func, SystemName: l.Func, Filename: l.File}
		b.funcs[fk] = fn
		b.p.Function = append(b.p.Function, fn)
	}
	loc := &profile.Location{ID: uint64(len(b.p.Location) + 1), Mapping: b.mapping, Line: []profile.Line{{Function: fn, Line: int64(l.Line)}}}
	b.locs[k] = loc
	b.p.Location = append(b.p.Location, loc)
	return loc
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
