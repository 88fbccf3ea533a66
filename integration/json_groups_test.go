package integration

// The groups of --format json, --by location and --by parent, and the flags that imply
// --stacks (issue 19, items 3 and 4), against the runtime's own dump of the fixture
// regrouped here, independently of gorigin's grouping.

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/integration/oracle"
	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// groupsDoc is what a script reads of a --format json document: the goroutines as
// before, and the groups.
type groupsDoc struct {
	Schema        string `json:"schema"`
	GroupedBy     string `json:"groupedBy"`
	GroupsOmitted int    `json:"groupsOmitted"`
	Goroutines    []struct {
		ID int64 `json:"id"`
	} `json:"goroutines"`
	Groups []struct {
		Key    string `json:"key"`
		Count  int    `json:"count"`
		States []struct {
			Status     string `json:"status"`
			WaitReason string `json:"waitReason"`
			Count      int    `json:"count"`
		} `json:"states"`
		Origin, Start, Location, ParentOrigin *snapshot.Location
		MaxWaitSeconds                        float64 `json:"maxWaitSeconds"`
		StackBytes                            int64   `json:"stackBytes"`
		Examples                              []int64 `json:"examples"`
		Parents                               []int64 `json:"parents"`
	} `json:"groups"`
}

func attachGroups(t *testing.T, pid int, flags ...string) groupsDoc {
	t.Helper()
	snap, r := attachJSON(t, pid, nil, flags...) // a gorigin.snapshot/v1 reader still reads it
	var doc groupsDoc
	if err := json.Unmarshal(r.Stdout, &doc); err != nil {
		t.Fatalf("gorigin %s: %v", strings.Join(r.Args, " "), err)
	}
	if doc.Schema != snapshot.Schema || len(doc.Goroutines) != len(snap.Goroutines) {
		t.Fatalf("schema %q, %d goroutines; Decode read %d", doc.Schema, len(doc.Goroutines), len(snap.Goroutines))
	}
	for i := 1; i < len(doc.Groups); i++ {
		if doc.Groups[i].Count > doc.Groups[i-1].Count {
			t.Errorf("groups not largest first: %q ×%d after %q ×%d", doc.Groups[i].Key, doc.Groups[i].Count, doc.Groups[i-1].Key, doc.Groups[i-1].Count)
		}
	}
	return doc
}

// fixtureFileRE matches the fixture's own files in a "func file:line" text.
const fixtureFileRE = `/(spawn|wrapped|main|cgo)\.go:`

func TestJSONGroups(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	v := hostVariant(t)
	f := startFixture(t, fixtureBinary(t, v), "-n", "3")
	gs := f.debug2(t)
	stmts := fixtureGoStatements(t, v.Cgo, 3)

	// The oracle: the runtime's goroutines counted by the file:line of their go statement.
	byOrigin := map[string]int{}
	for _, g := range gs {
		if g.CreatedBy != nil {
			byOrigin[filepath.Base(g.CreatedBy.File)+":"+strconv.Itoa(g.CreatedBy.Line)]++
		}
	}
	steady := func(at string) bool { // a fixture go statement whose goroutines stay put
		for _, s := range stmts {
			if s.File+":"+strconv.Itoa(s.Line) == at {
				return !s.External && !restless(s.Name)
			}
		}
		return false
	}

	t.Run("origin", func(t *testing.T) {
		doc := attachGroups(t, f.Pid)
		got, total := map[string]int{}, 0
		for _, g := range doc.Groups {
			total += g.Count
			if g.Origin != nil {
				got[filepath.Base(g.Origin.File)+":"+strconv.Itoa(g.Origin.Line)] += g.Count
			}
			n := 0
			for _, st := range g.States {
				n += st.Count
			}
			if n != g.Count || len(g.Examples) == 0 || len(g.Examples) > snapshot.MaxExamples {
				t.Errorf("group %q ×%d: states count %d, examples %v", g.Key, g.Count, n, g.Examples)
			}
		}
		if doc.GroupedBy != "origin" || total != len(doc.Goroutines) || doc.GroupsOmitted != 0 {
			t.Errorf("groupedBy %q, groups hold %d of %d goroutines, %d omitted; want origin, all, none", doc.GroupedBy, total, len(doc.Goroutines), doc.GroupsOmitted)
		}
		compared := 0
		for at, n := range byOrigin {
			if steady(at) {
				compared++
				if got[at] != n {
					t.Errorf("go statement %s: %d goroutines in the groups, the runtime shows %d", at, got[at], n)
				}
			}
		}
		if compared < 10 {
			t.Fatalf("only %d go statements compared", compared)
		}

		top := attachGroups(t, f.Pid, "--top", "3")
		if len(top.Groups) != 3 || top.GroupsOmitted != len(doc.Groups)-3 || len(top.Goroutines) != len(doc.Goroutines) {
			t.Errorf("--top 3: %d groups, %d omitted, %d goroutines; want 3, %d, all %d", len(top.Groups), top.GroupsOmitted, len(top.Goroutines), len(doc.Groups)-3, len(doc.Goroutines))
		}
		for i := range min(3, len(top.Groups)) {
			if top.Groups[i].Count != doc.Groups[i].Count {
				t.Errorf("--top 3: group %d is %q ×%d, without --top %q ×%d", i, top.Groups[i].Key, top.Groups[i].Count, doc.Groups[i].Key, doc.Groups[i].Count)
			}
		}
	})

	t.Run("match and exclude", func(t *testing.T) {
		doc := attachGroups(t, f.Pid, "--match", `origin:/spawn\.go:`, "--exclude", "wait:sleep$")
		got := map[string]int{}
		for _, g := range doc.Groups {
			if g.Origin == nil || filepath.Base(g.Origin.File) != "spawn.go" {
				t.Errorf("--match origin:spawn.go: group %q", g.Key)
				continue
			}
			for _, st := range g.States {
				if st.WaitReason == "sleep" {
					t.Errorf("--exclude wait:sleep$: group %q has %d sleeping", g.Key, st.Count)
				}
			}
			got[filepath.Base(g.Origin.File)+":"+strconv.Itoa(g.Origin.Line)] += g.Count
		}
		awake, sleeping := map[string]int{}, 0 // the runtime's goroutines not sleeping, by go statement
		for _, g := range gs {
			if g.CreatedBy == nil {
				continue
			}
			at := filepath.Base(g.CreatedBy.File) + ":" + strconv.Itoa(g.CreatedBy.Line)
			if g.Status == "sleep" {
				sleeping++
			} else {
				awake[at]++
			}
		}
		for at := range byOrigin {
			if strings.HasPrefix(at, "spawn.go:") && steady(at) && got[at] != awake[at] {
				t.Errorf("go statement %s: %d goroutines in the groups, the runtime shows %d not sleeping", at, got[at], awake[at])
			}
		}
		if sleeping == 0 {
			t.Fatal("the runtime shows no sleeping goroutine: the exclusion checks nothing")
		}
	})

	t.Run("location", func(t *testing.T) {
		// The oracle: where each goroutine of the fixture is in the fixture's code, its
		// innermost main. frame (the fixture's only own package): under sync.Mutex.Lock,
		// internal/poll and syscall.
		want := map[string]int{}
		for _, g := range gs {
			if g.CreatedBy == nil || !steady(filepath.Base(g.CreatedBy.File)+":"+strconv.Itoa(g.CreatedBy.Line)) {
				continue
			}
			for _, fr := range g.Frames {
				if strings.HasPrefix(fr.Func, "main.") {
					want[fr.Func+" "+filepath.Base(fr.File)+":"+strconv.Itoa(fr.Line)]++
					break
				}
			}
		}
		doc := attachGroups(t, f.Pid, "--by", "location", "--stacks", "--match", "origin:"+fixtureFileRE, "--exclude", `start:^main\.(busy|serveHTTP) `)
		got := map[string]int{}
		for _, g := range doc.Groups {
			if g.Location == nil {
				t.Errorf("--by location: group %q has no location", g.Key)
				continue
			}
			got[g.Location.Func+" "+filepath.Base(g.Location.File)+":"+strconv.Itoa(g.Location.Line)] += g.Count
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("--by location:\n got %v\nwant %v (the runtime's innermost fixture frames)", got, want)
		}
		if len(want) < 10 {
			t.Fatalf("only %d locations compared", len(want))
		}
	})

	t.Run("parent", func(t *testing.T) {
		if testenv.Minor(v.Toolchain) < 21 {
			t.Skip("the runtime names parents from Go 1.21")
		}
		// The oracle: the fixture's goroutines counted by their parent's go statement.
		byID := map[int64]*oracle.Goroutine{}
		for i := range gs {
			byID[gs[i].ID] = &gs[i]
		}
		want := map[string]int{}
		for _, g := range gs {
			if g.CreatedBy == nil || !regexp.MustCompile(fixtureFileRE).MatchString("/"+filepath.Base(g.CreatedBy.File)+":") {
				continue
			}
			want[parentAt(byID, g.ParentID)]++
		}
		doc := attachGroups(t, f.Pid, "--by", "parent", "--match", "origin:"+fixtureFileRE)
		got := map[string]int{}
		for _, g := range doc.Groups {
			at := "(no go statement)"
			switch {
			case g.ParentOrigin != nil:
				at = filepath.Base(g.ParentOrigin.File) + ":" + strconv.Itoa(g.ParentOrigin.Line)
			case strings.HasPrefix(g.Key, "("):
				at = g.Key
			}
			got[at] += g.Count
			for i := 1; i < len(g.Parents); i++ {
				if g.Parents[i] <= g.Parents[i-1] {
					t.Errorf("group %q: parents %v not in numeric order", g.Key, g.Parents)
				}
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("--by parent:\n got %v\nwant %v (the runtime's parents' go statements)", got, want)
		}
		if len(want) < 3 {
			t.Fatalf("only %d parents' go statements: the chain's children, the main goroutine's, the spawners'", len(want))
		}
	})
	testenv.CheckRunsFreely(t, f.Pid, 100*time.Millisecond)
}

// parentAt is the oracle's answer for a goroutine whose parent is id: the file:line of
// the go statement that created the parent.
func parentAt(byID map[int64]*oracle.Goroutine, id int64) string {
	p, ok := byID[id]
	switch {
	case id == 0:
		return snapshot.NoParent
	case !ok:
		return snapshot.ParentGone
	case p.CreatedBy == nil:
		return "(no go statement)"
	}
	return filepath.Base(p.CreatedBy.File) + ":" + strconv.Itoa(p.CreatedBy.Line)
}

// TestFlagsImplyStacks: -v shows stacks without --stacks, and a location: filter matches
// as it would with --stacks, rather than nothing.
func TestFlagsImplyStacks(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	f := startFixture(t, fixtureBinary(t, hostVariant(t)), "-n", "3")
	gs := f.debug2(t)

	r := runGorigin(t, nil, "attach", strconv.Itoa(f.Pid), "-v", "--top", "1")
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	out := string(r.Stdout)
	m := regexp.MustCompile(`representative goroutine (\d+) `).FindStringSubmatch(out)
	if m == nil || strings.Contains(out, snapshot.NoStack) {
		t.Fatalf("-v without --stacks: no stack shown:\n%s", out)
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	for _, g := range gs {
		if g.ID != id {
			continue
		}
		for _, fr := range g.Frames {
			if !strings.HasPrefix(fr.Func, "runtime.") && !strings.Contains(out, "\n    "+fr.Func) {
				t.Errorf("-v: goroutine %d's frame %s (the runtime's) is not shown:\n%s", id, fr.Func, out)
			}
		}
	}

	want := 0 // goroutines whose innermost fixture frame is main.blockRecv
	for _, g := range gs {
		for _, fr := range g.Frames {
			if strings.HasPrefix(fr.Func, "main.") {
				if fr.Func == "main.blockRecv" {
					want++
				}
				break
			}
		}
	}
	doc := attachGroups(t, f.Pid, "--match", `location:^main\.blockRecv `)
	got := 0
	for _, g := range doc.Groups {
		got += g.Count
	}
	if got != want || want == 0 {
		t.Errorf("--match location:main.blockRecv without --stacks: %d goroutines, the runtime shows %d there", got, want)
	}
}
