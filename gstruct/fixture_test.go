package gstruct

import (
	"bufio"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/goversion"
	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// fixtureGroup is what testdata/target spawns from main with one start function.
type fixtureGroup struct {
	start      string // start function
	n          int
	statuses   []string // acceptable statuses
	waitReason string   // for waiting ones
	labelled   bool
	locked     bool
}

var fixtureGroups = []fixtureGroup{
	{"main.chanWaiter", 7, []string{"waiting"}, "chan receive", false, false},
	{"main.selectWaiter", 5, []string{"waiting"}, "select", false, false},
	{"main.mutexWaiter", 3, []string{"waiting"}, "sync.Mutex.Lock", false, false},
	{"main.sleeper", 2, []string{"waiting"}, "sleep", false, false},
	{"main.labelled", 4, []string{"waiting"}, "chan receive", true, false},
	{"main.locked", 1, []string{"waiting"}, "chan receive", false, true},
	{"main.busy", 2, []string{"running", "runnable"}, "", false, false},
}

var wantLabels = map[string]string{"tenant": "a", "job": "x"}

func TestFixture(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reading another process's memory through /proc/PID/mem needs root here")
	}
	for _, tc := range toolchains {
		for _, pie := range []bool{false, true} {
			name := tc
			var flags []string
			if pie {
				name += "-pie"
				flags = append(flags, "-buildmode=pie")
			}
			var full fixtureSummary
			t.Run(name, func(t *testing.T) {
				bin := buildFixture(t, tc, flags...)
				full = checkFixture(t, bin, bin, pie)
			})
			if !strippedToolchains[tc] {
				continue
			}
			// The same program built -s -w: the same decode, with the built-in layout and
			// the variables found in machine code. The unstripped build's symbols name the
			// functions (the text is the same).
			t.Run(name+"-stripped", func(t *testing.T) {
				bin := buildFixture(t, tc, append(flags, "-ldflags=-s -w")...)
				got := checkFixture(t, bin, buildFixture(t, tc, flags...), pie)
				if full == nil {
					t.Skip("the unstripped build failed: nothing to compare with")
				}
				if !reflect.DeepEqual(got, full) {
					t.Errorf("stripped build decodes\n%v\nthe unstripped one\n%v", got, full)
				}
			})
		}
	}
}

// strippedToolchains are the toolchains whose fixture is also tested stripped.
var strippedToolchains = map[string]bool{testenv.Oldest: true, testenv.Host: true, testenv.Newest: true}

// fixtureSummary counts the fixture's goroutines by what gstruct decoded of them: start
// function, status (running and runnable alike), wait reason, labels, locked, parent.
type fixtureSummary map[string]int

// checkFixture runs the fixture bin and checks gstruct's decode of it; symsBin is an
// unstripped build of the same program, whose symbols name the functions.
func checkFixture(t *testing.T, bin, symsBin string, pie bool) fixtureSummary {
	rt, err := Open(bin)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Logf("%s: %s", rt.GoVersion(), rt.Source())
	minor := goversion.Parse(rt.GoVersion())
	if minor < 20 {
		t.Fatalf("GoVersion %q: want go1.20 or later", rt.GoVersion())
	}
	syms := funcSymbols(t, symsBin)

	fx := startFixture(t, bin)
	dump := fx.stacks(t)
	mem := openProcMem(t, fx.pid)
	if err := rt.Bind(mem, procMaps(t, fx.pid), "/proc/"+strconv.Itoa(fx.pid)+"/exe"); err != nil {
		t.Fatalf("Bind: %v", err)
	}

	// The load bias against the fixture's own view of a function address.
	wantBias := fx.chanWaiterPC - syms.addr(t, "main.chanWaiter")
	if rt.LoadBias() != wantBias {
		t.Errorf("LoadBias = %#x, want %#x", rt.LoadBias(), wantBias)
	}
	if (rt.LoadBias() != 0) != pie {
		t.Errorf("LoadBias = %#x for pie=%v", rt.LoadBias(), pie)
	}

	addrs, err := rt.AllGs(mem)
	if err != nil {
		t.Fatalf("AllGs: %v", err)
	}
	gs := readGs(t, rt, mem, addrs)
	var withLabels []*G
	for i := range gs {
		if gs[i].LabelsPtr != 0 {
			withLabels = append(withLabels, &gs[i])
		}
	}
	if err := rt.ReadLabels(mem, withLabels); err != nil {
		t.Fatalf("ReadLabels: %v", err)
	}

	// Every live goroutine has a unique non-zero id.
	byID := map[int64]*G{}
	for i := range gs {
		g := &gs[i]
		if g.Status == "dead" {
			continue
		}
		if g.ID <= 0 {
			t.Errorf("g %#x (%s) has id %d", g.Addr, g.Status, g.ID)
		}
		if byID[g.ID] != nil {
			t.Errorf("id %d is used by g %#x and g %#x", g.ID, byID[g.ID].Addr, g.Addr)
		}
		byID[g.ID] = g
		if g.Status == "unknown" {
			t.Errorf("g %d has unknown status code %d", g.ID, g.StatusCode)
		}
	}
	if byID[1] == nil {
		t.Fatalf("no goroutine 1 among %d gs", len(gs))
	}

	// The fixture's goroutines, by start function.
	byStart := map[string][]*G{}
	for i := range gs {
		g := &gs[i]
		if g.Status == "dead" {
			continue
		}
		byStart[syms.name(g.StartPC-rt.LoadBias())] = append(byStart[syms.name(g.StartPC-rt.LoadBias())], g)
	}
	for _, grp := range fixtureGroups {
		got := byStart[grp.start]
		if len(got) != grp.n {
			t.Errorf("%s: %d goroutines, want %d", grp.start, len(got), grp.n)
		}
		for _, g := range got {
			if !contains(grp.statuses, g.Status) {
				t.Errorf("%s: goroutine %d is %s, want one of %v", grp.start, g.ID, g.Status, grp.statuses)
			}
			if g.Status == "waiting" && g.WaitReason != grp.waitReason {
				t.Errorf("%s: goroutine %d waits on %q, want %q", grp.start, g.ID, g.WaitReason, grp.waitReason)
			}
			if g.Status == "waiting" && g.WaitSince == 0 {
				t.Errorf("%s: goroutine %d has waitsince 0 after two GCs", grp.start, g.ID)
			}
			if g.Status == "waiting" && !(g.StackLo < g.SchedSP && g.SchedSP <= g.StackHi) {
				t.Errorf("%s: goroutine %d: sched.sp %#x outside its stack [%#x, %#x)", grp.start, g.ID, g.SchedSP, g.StackLo, g.StackHi)
			}
			if g.Status == "waiting" && (g.SchedPC == 0 || g.M != 0) {
				t.Errorf("%s: goroutine %d: parked with sched.pc %#x, m %#x", grp.start, g.ID, g.SchedPC, g.M)
			}
			if g.GoPC == 0 || syms.name(g.GoPC-rt.LoadBias()) != "main.spawn" {
				t.Errorf("%s: goroutine %d: gopc %#x is not in main.spawn", grp.start, g.ID, g.GoPC)
			}
			wantParent := int64(1)
			if minor < 21 {
				wantParent = 0 // g.parentGoid is Go 1.21+
			}
			if g.ParentID != wantParent {
				t.Errorf("%s: goroutine %d: parent %d, want %d", grp.start, g.ID, g.ParentID, wantParent)
			}
		}
	}
	if main := byID[1]; syms.name(main.StartPC-rt.LoadBias()) != "runtime.main" {
		t.Errorf("goroutine 1 starts in %s, want runtime.main", syms.name(main.StartPC-rt.LoadBias()))
	}

	// Labels and LockedM on exactly the goroutines that have them.
	for _, g := range gs {
		if g.Status == "dead" {
			continue
		}
		start := syms.name(g.StartPC - rt.LoadBias())
		if want := start == "main.labelled"; want != (g.Labels != nil) || want && !equalMaps(g.Labels, wantLabels) {
			t.Errorf("goroutine %d (%s): labels %v", g.ID, start, g.Labels)
		}
		if want := start == "main.locked"; want != g.LockedM {
			t.Errorf("goroutine %d (%s): LockedM = %v, want %v", g.ID, start, g.LockedM, want)
		}
	}

	// The runtime's own view: every goroutine of runtime.Stack(all) is there with the same
	// state, wait reason and parent.
	dgs := parseDump(t, dump)
	spawned := 0
	for _, grp := range fixtureGroups {
		spawned += grp.n
	}
	if len(dgs) != 1+spawned {
		t.Fatalf("runtime.Stack shows %d goroutines, want main and %d:\n%s", len(dgs), spawned, dump)
	}
	for _, d := range dgs {
		g := byID[d.id]
		if g == nil {
			t.Errorf("goroutine %d [%s] of runtime.Stack is not among the decoded ones", d.id, d.state)
			continue
		}
		switch d.state {
		case "running", "runnable", "syscall":
			// main (which printed the dump) and the busy loops move on.
		default:
			if g.Status != "waiting" || g.WaitReason != d.state {
				t.Errorf("goroutine %d: decoded %s %q, runtime.Stack says [%s]", d.id, g.Status, g.WaitReason, d.state)
			}
		}
		if minor >= 21 && d.parent != 0 && g.ParentID != d.parent {
			t.Errorf("goroutine %d: parent %d, runtime.Stack says %d", d.id, g.ParentID, d.parent)
		}
	}

	sum := fixtureSummary{}
	for _, g := range gs {
		start := syms.name(g.StartPC - rt.LoadBias())
		if g.Status == "dead" || !strings.HasPrefix(start, "main.") {
			continue
		}
		status := g.Status
		if status == "running" || status == "runnable" {
			status = "active"
		}
		sum[fmt.Sprintf("%s %s %q labels=%v locked=%v parent=%d", start, status, g.WaitReason, g.Labels, g.LockedM, g.ParentID)]++
	}
	return sum
}

func readGs(t *testing.T, rt *Runtime, mem *procMem, addrs []uint64) []G {
	t.Helper()
	gs := make([]G, 0, len(addrs))
	for _, a := range addrs {
		raw := make([]byte, rt.GSize())
		if _, err := mem.f.ReadAt(raw, int64(a)); err != nil {
			t.Fatalf("read g at %#x: %v", a, err)
		}
		gs = append(gs, rt.Decode(a, raw))
		// capture copies only the first DecodedBytes of a large number of g's: they
		// must decode to the same G, labels pointer and Glance as the whole g.
		part := raw[:rt.DecodedBytes()]
		if g := rt.Decode(a, part); !reflect.DeepEqual(g, gs[len(gs)-1]) || rt.Glance(part) != rt.Glance(raw) || rt.LabelsPtr(part) != rt.LabelsPtr(raw) {
			t.Fatalf("g at %#x: its first %d bytes decode to %+v, the whole %d to %+v", a, len(part), g, len(raw), gs[len(gs)-1])
		}
	}
	return gs
}

// fixture is a running testdata/target.
type fixture struct {
	pid          int
	stdin        io.Writer
	lines        chan string
	chanWaiterPC uint64
}

func startFixture(t *testing.T, bin string) *fixture {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=4") // the busy loops must not starve main
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start fixture: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	fx := &fixture{pid: cmd.Process.Pid, stdin: stdin, lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fx.lines <- sc.Text()
		}
		close(fx.lines)
	}()
	ready := fx.line(t)
	pc, ok := strings.CutPrefix(ready, "ready 0x")
	if !ok {
		t.Fatalf("fixture said %q, want ready 0x...", ready)
	}
	if fx.chanWaiterPC, err = strconv.ParseUint(pc, 16, 64); err != nil {
		t.Fatalf("fixture said %q: %v", ready, err)
	}
	return fx
}

func (fx *fixture) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-fx.lines:
		if !ok {
			t.Fatal("fixture exited")
		}
		return l
	case <-time.After(30 * time.Second):
		t.Fatal("fixture did not answer within 30s")
	}
	return ""
}

// stacks asks the fixture for runtime.Stack(all) and returns it.
func (fx *fixture) stacks(t *testing.T) string {
	t.Helper()
	if _, err := io.WriteString(fx.stdin, "stack\n"); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for l := fx.line(t); l != "end"; l = fx.line(t) {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// dumpG is a goroutine as the runtime's traceback shows it.
type dumpG struct {
	id, parent int64 // parent is 0 when not shown (before Go 1.21)
	state      string
}

var (
	dumpHeaderRE  = regexp.MustCompile(`^goroutine (\d+) [^\[]*\[([^\]]*)\]:$`)
	dumpCreatedRE = regexp.MustCompile(`^created by \S+ in goroutine (\d+)$`)
)

func parseDump(t *testing.T, dump string) []dumpG {
	var out []dumpG
	for _, line := range strings.Split(dump, "\n") {
		if m := dumpHeaderRE.FindStringSubmatch(line); m != nil {
			id, _ := strconv.ParseInt(m[1], 10, 64)
			state, _, _ := strings.Cut(m[2], ", ") // drop ", 2 minutes", ", locked to thread"
			out = append(out, dumpG{id: id, state: state})
		} else if m := dumpCreatedRE.FindStringSubmatch(line); m != nil && len(out) > 0 {
			out[len(out)-1].parent, _ = strconv.ParseInt(m[1], 10, 64)
		} else if strings.HasPrefix(line, "goroutine ") {
			t.Fatalf("unparsed goroutine header %q", line)
		}
	}
	return out
}

// funcTable is the executable's function symbols, an oracle independent of gstruct.
type funcTable []elf.Symbol

func funcSymbols(t *testing.T, bin string) funcTable {
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	var fs funcTable
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC {
			fs = append(fs, s)
		}
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Value < fs[j].Value })
	return fs
}

// name is the function containing the link-time address pc.
func (fs funcTable) name(pc uint64) string {
	i := sort.Search(len(fs), func(i int) bool { return fs[i].Value > pc }) - 1
	if i < 0 || pc >= fs[i].Value+fs[i].Size {
		return "?"
	}
	return fs[i].Name
}

func (fs funcTable) addr(t *testing.T, name string) uint64 {
	for _, s := range fs {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("no symbol %s", name)
	return 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
