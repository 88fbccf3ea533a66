package dap

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	godap "github.com/google/go-dap"

	"github.com/gorigin-dev/gorigin/dap/daptest"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// fakeProcess is a made-up process: goroutine 1 (main), leaks goroutines blocked in
// chan receive created at main.go:94, two select workers created at worker.go:10 (a
// file that is not on this machine), and one runtime goroutine.
type fakeProcess struct {
	dir   string // holds main.go, so frames there have a real path
	leaks atomic.Int64
	taken atomic.Int64
}

func newFakeProcess(t testing.TB, leaks int) *fakeProcess {
	p := &fakeProcess{dir: t.TempDir()}
	if err := os.WriteFile(filepath.Join(p.dir, "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.leaks.Store(int64(leaks))
	return p
}

func (p *fakeProcess) mainGo() string { return filepath.Join(p.dir, "main.go") }

func (p *fakeProcess) snapshot() *snapshot.Snapshot {
	p.taken.Add(1)
	mainGo := p.mainGo()
	park := snapshot.Location{Func: "runtime.gopark", File: "/nonexistent/go/src/runtime/proc.go", Line: 435}
	gs := []snapshot.Goroutine{{ID: 1, Status: "waiting", WaitReason: "select", Start: &snapshot.Location{Func: "runtime.main"},
		Frames: []snapshot.Location{park, {Func: "main.main", File: mainGo, Line: 96}}}}
	for i := range int(p.leaks.Load()) {
		gs = append(gs, snapshot.Goroutine{ID: int64(100 + i), ParentID: 1, Status: "waiting", WaitReason: "chan receive", WaitSeconds: 840,
			Origin: &snapshot.Location{Func: "main.main", File: mainGo, Line: 94},
			Start:  &snapshot.Location{Func: "main.blockRecv", File: mainGo, Line: 20},
			Frames: []snapshot.Location{park, {Func: "runtime.chanrecv1", File: "/nonexistent/go/src/runtime/chan.go", Line: 506}, {Func: "main.blockRecv", File: mainGo, Line: 21}},
			Labels: map[string]string{"tenant": fmt.Sprint("t", i%2)}, StackBytes: 8192})
	}
	for _, id := range []int64{7, 9} {
		gs = append(gs, snapshot.Goroutine{ID: id, ParentID: 1, Status: "waiting", WaitReason: "select",
			Origin: &snapshot.Location{Func: "main.serve", File: "/elsewhere/worker.go", Line: 10},
			Start:  &snapshot.Location{Func: "main.worker", File: "/elsewhere/worker.go", Line: 30},
			Frames: []snapshot.Location{park, {Func: "main.worker", File: "/elsewhere/worker.go", Line: 33}}})
	}
	gs = append(gs, snapshot.Goroutine{ID: 2, Status: "waiting", WaitReason: "GC sweep wait", System: true, Start: &snapshot.Location{Func: "runtime.bgsweep"}})
	return &snapshot.Snapshot{Schema: snapshot.Schema, Source: snapshot.Source{Kind: "live", Backend: "native", Pid: 4242, TakenAt: time.Now(), FreezeMicros: 900, Freeze: "always"},
		Goroutines: gs, Warnings: []string{"a test warning"}}
}

func (p *fakeProcess) sources() Sources {
	return Sources{Live: func(pid int, backend, freeze string) (Source, error) {
		if pid != 4242 {
			return nil, fmt.Errorf("no such process %d", pid)
		}
		return func(context.Context) (*snapshot.Snapshot, error) { return p.snapshot(), nil }, nil
	}}
}

// startServer runs Serve in-process on one end of a pipe and returns a client on the
// other end, and Serve's result when it returns.
func startServer(t testing.TB, src Sources) (*daptest.Client, <-chan error) {
	t.Helper()
	a, b := net.Pipe()
	done := make(chan error, 1)
	go func() {
		err := Serve(context.Background(), b, src)
		b.Close()
		done <- err
	}()
	t.Cleanup(func() { a.Close() })
	return daptest.New(t, a), done
}

// ended waits for Serve to return and returns its error.
func ended(t testing.TB, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the adapter did not end its session within 30 s")
		return nil
	}
}

// TestSessionGrouped is a whole session on a process with more goroutines than the
// threshold: threads are groups, their goroutines are reachable through variables, the
// REPL works, and disconnect ends the session cleanly.
func TestSessionGrouped(t *testing.T) {
	p := newFakeProcess(t, 1993)
	c, done := startServer(t, p.sources())
	stopped := c.Handshake("attach", map[string]any{"processId": 4242})

	threads := c.Threads()
	if len(threads) != 3 {
		t.Fatalf("want 3 group threads (leaks, workers, main), got %v", threads)
	}
	if want := "1,993 × chan receive — main.go:94 main.blockRecv"; threads[0].Name != want {
		t.Errorf("largest group thread %q, want %q", threads[0].Name, want)
	}
	if stopped.Body.ThreadId != threads[0].Id || !stopped.Body.AllThreadsStopped {
		t.Errorf("stopped event %+v: want all threads stopped, focus on thread %d", stopped.Body, threads[0].Id)
	}
	if c.Event("progressStart") == nil || c.Event("progressEnd") == nil {
		t.Error("no progress events while reading")
	}
	out := c.Event("output").(*godap.OutputEvent)
	if !strings.Contains(out.Body.Output, "a test warning") {
		t.Errorf("first output event %q, want the snapshot's warning", out.Body.Output)
	}

	st := c.Call("stackTrace", map[string]any{"threadId": threads[0].Id}).(*godap.StackTraceResponse).Body
	frames := st.StackFrames
	if len(frames) != 4 || st.TotalFrames != 4 {
		t.Fatalf("group stack: want 3 frames of the representative and the go statement, got %+v", frames)
	}
	last := frames[len(frames)-1]
	if last.Source == nil || last.Source.Path != p.mainGo() || last.Line != 94 || !strings.Contains(last.Name, "main.main") {
		t.Errorf("last frame %+v: want the go statement at %s:94", last, p.mainGo())
	}
	if frames[0].Source == nil || frames[0].Source.Path != "" || frames[0].Source.PresentationHint != "deemphasize" {
		t.Errorf("a runtime frame whose file is missing: %+v, want no path and deemphasized", frames[0].Source)
	}

	scopes := c.Call("scopes", map[string]any{"frameId": last.Id}).(*godap.ScopesResponse).Body.Scopes
	var groupRef, groupsRef int
	for _, s := range scopes {
		switch {
		case s.Name == "Group":
			groupRef = s.VariablesReference
		case strings.HasPrefix(s.Name, "Groups"):
			groupsRef = s.VariablesReference
			if s.IndexedVariables != 3 {
				t.Errorf("Groups scope has %d indexed variables, want 3", s.IndexedVariables)
			}
		}
	}
	if groupRef == 0 || groupsRef == 0 {
		t.Fatalf("scopes %+v: want Group and Groups", scopes)
	}
	vars := c.Variables(groupRef, nil)
	members := daptest.Find(t, vars, "goroutines")
	if members.IndexedVariables != 1993 {
		t.Fatalf("group goroutines: %d indexed, want 1993", members.IndexedVariables)
	}
	// Page through every member as an IDE does, 100 at a time.
	seen := map[string]bool{}
	for start := 0; start < members.IndexedVariables; start += 100 {
		for _, v := range c.Variables(members.VariablesReference, map[string]any{"filter": "indexed", "start": start, "count": 100}) {
			seen[v.Name] = true
		}
	}
	if len(seen) != 1993 || !seen["goroutine 100"] || !seen["goroutine 2092"] {
		t.Errorf("paged through %d distinct goroutines, want 1993 (100 … 2092)", len(seen))
	}
	one := c.Variables(members.VariablesReference, map[string]any{"filter": "indexed", "start": 5, "count": 1})
	if len(one) != 1 || one[0].Name != "goroutine 105" {
		t.Fatalf("member 5: %+v", one)
	}
	g := c.Variables(one[0].VariablesReference, nil)
	for name, want := range map[string]string{
		"id": "105", "status": "waiting", "waitReason": "chan receive", "wait": "14m0s",
		"origin": "main.main " + p.mainGo() + ":94", "start": "main.blockRecv " + p.mainGo() + ":20",
		"labels": "{tenant=t1}", "location": "main.blockRecv " + p.mainGo() + ":21",
	} {
		if got := daptest.Find(t, g, name).Value; got != want {
			t.Errorf("goroutine 105 %s = %q, want %q", name, got, want)
		}
	}
	if parent := daptest.Find(t, g, "parent"); parent.VariablesReference == 0 || !strings.HasPrefix(parent.Value, "goroutine 1:") {
		t.Errorf("parent %+v: want goroutine 1, expandable", parent)
	}

	// The REPL.
	res := c.Evaluate("groups")
	if !strings.Contains(res.Result, "1,993  chan receive") || res.VariablesReference == 0 {
		t.Errorf("groups: %q (ref %d)", res.Result, res.VariablesReference)
	}
	if res := c.Evaluate("groups --by wait"); !strings.Contains(res.Result, "chan receive") {
		t.Errorf("groups --by wait: %q", res.Result)
	}
	if res := c.Evaluate("goroutine 7"); !strings.Contains(res.Result, "main.worker") || !strings.Contains(res.Result, "created by main.serve") {
		t.Errorf("goroutine 7: %q", res.Result)
	}
	er := c.ErrorResponse(c.Send("evaluate", map[string]any{"expression": "diff", "context": "repl"}))
	if !strings.Contains(er.Message, "refresh") {
		t.Errorf("diff before a second snapshot: %q", er.Message)
	}
	p.leaks.Add(7)
	if res := c.Evaluate("refresh"); !strings.Contains(res.Result, "2,004 goroutines") {
		t.Errorf("refresh: %q", res.Result)
	}
	c.Event("stopped")
	res = c.Evaluate("diff")
	if !strings.Contains(res.Result, "+7") || !strings.Contains(res.Result, "1,993 → 2,000") || !strings.Contains(res.Result, "7 new, 0 gone") {
		t.Errorf("diff: %q", res.Result)
	}
	if got := c.Threads(); got[0].Id != threads[0].Id || !strings.HasPrefix(got[0].Name, "2,000 ×") {
		t.Errorf("after refresh the group keeps its thread id %d: %+v", threads[0].Id, got[0])
	}

	// pause and continue take new snapshots.
	before := p.taken.Load()
	c.Call("pause", map[string]any{"threadId": threads[0].Id})
	c.Event("stopped")
	c.Call("continue", map[string]any{"threadId": threads[0].Id})
	c.Event("stopped")
	if n := p.taken.Load() - before; n != 2 {
		t.Errorf("pause and continue took %d snapshots, want 2", n)
	}

	c.Call("disconnect", nil)
	if err := ended(t, done); err != nil {
		t.Errorf("Serve after disconnect: %v", err)
	}
}

// TestSessionPerGoroutine: at or below the threshold every goroutine is a thread with
// its own stack; system goroutines are hidden unless asked for.
func TestSessionPerGoroutine(t *testing.T) {
	p := newFakeProcess(t, 3)
	for _, tc := range []struct {
		name string
		args map[string]any
		want []string
	}{
		{"default", map[string]any{"processId": 4242}, []string{"goroutine 1 ", "goroutine 7 ", "goroutine 9 ", "goroutine 100 ", "goroutine 101 ", "goroutine 102 "}},
		{"system", map[string]any{"processId": "4242", "system": true}, []string{"goroutine 1 ", "goroutine 2 ", "goroutine 7 ", "goroutine 9 ", "goroutine 100 ", "goroutine 101 ", "goroutine 102 "}},
		{"threshold", map[string]any{"processId": 4242, "groupThreshold": 5}, []string{"3 × chan receive", "2 × select", "1 × select"}},
		{"always grouped", map[string]any{"processId": 4242, "groupThreshold": -1, "groupBy": "wait"}, []string{"3 × chan receive — waiting: chan receive", "3 × select — waiting: select"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, done := startServer(t, p.sources())
			c.Handshake("attach", tc.args)
			threads := c.Threads()
			if len(threads) != len(tc.want) {
				t.Fatalf("threads %+v, want %q", threads, tc.want)
			}
			for i, th := range threads {
				if !strings.HasPrefix(th.Name, tc.want[i]) {
					t.Errorf("thread %d %q, want it to start %q", i, th.Name, tc.want[i])
				}
			}
			c.Call("disconnect", nil)
			ended(t, done)
		})
	}

	c, done := startServer(t, p.sources())
	c.Handshake("attach", map[string]any{"processId": 4242})
	threads := c.Threads()
	frames := c.Call("stackTrace", map[string]any{"threadId": threads[3].Id, "startFrame": 2, "levels": 1}).(*godap.StackTraceResponse).Body
	if len(frames.StackFrames) != 1 || frames.StackFrames[0].Name != "main.blockRecv" || frames.StackFrames[0].Source.Path != p.mainGo() || frames.TotalFrames != 4 {
		t.Errorf("goroutine 100 frame 2: %+v", frames)
	}
	scopes := c.Call("scopes", map[string]any{"frameId": frames.StackFrames[0].Id}).(*godap.ScopesResponse).Body.Scopes
	if scopes[0].Name != "Goroutine 100" {
		t.Errorf("first scope %q, want Goroutine 100", scopes[0].Name)
	}
	c.Call("disconnect", nil)
	if err := ended(t, done); err != nil {
		t.Errorf("Serve after disconnect: %v", err)
	}
}

func TestComma(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1993: "1,993", 100000: "100,000", 1234567: "1,234,567", -1993: "-1,993"} {
		if got := comma(n); got != want {
			t.Errorf("comma(%d) = %q, want %q", n, got, want)
		}
	}
}
