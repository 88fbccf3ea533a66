package report

import (
	"time"

	"github.com/gorigin-dev/gorigin/snapshot"
)

func loc(fn, file string, line int) *snapshot.Location {
	return &snapshot.Location{Func: fn, File: file, Line: line}
}

var (
	park    = snapshot.Location{Func: "runtime.gopark", File: "/usr/local/go/src/runtime/proc.go", Line: 435}
	chanrcv = snapshot.Location{Func: "runtime.chanrecv1", File: "/usr/local/go/src/runtime/chan.go", Line: 506}
	selgo   = snapshot.Location{Func: "runtime.selectgo", File: "/usr/local/go/src/runtime/select.go", Line: 335}
)

// apiServer is a live snapshot of a server with a goroutine leak: 1,993 goroutines
// blocked in main.blockRecv, handler goroutines, and tasks spawned through one helper.
func apiServer() *snapshot.Snapshot {
	s := &snapshot.Snapshot{
		Schema: snapshot.Schema,
		Source: snapshot.Source{Kind: "live", Backend: "native", Pid: 4242, Exe: "./api-server", GoVersion: "go1.26.8",
			TakenAt: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), FreezeMicros: 1100, Freeze: "always"},
	}
	add := func(g snapshot.Goroutine) { s.Goroutines = append(s.Goroutines, g) }
	add(snapshot.Goroutine{ID: 1, Status: "waiting", WaitReason: "select", WaitSeconds: 3*3600 + 12*60,
		Start:      loc("runtime.main", "/usr/local/go/src/runtime/proc.go", 145),
		Frames:     []snapshot.Location{park, selgo, {Func: "main.main", File: "/home/dev/api/cmd/api/main.go", Line: 120}, {Func: "runtime.main", File: "/usr/local/go/src/runtime/proc.go", Line: 283}},
		StackBytes: 16384})
	serve := loc("github.com/acme/api/server.(*server).serve", "/home/dev/api/server/serve.go", 56)
	serveFn := loc("github.com/acme/api/server.(*server).serve.func1", "/home/dev/api/server/serve.go", 57)
	for i := range 11 {
		g := snapshot.Goroutine{ID: int64(3 + i), ParentID: 1, Status: "waiting", WaitReason: "select", WaitSeconds: float64(100 + i*70),
			Origin: serve, Start: serveFn,
			Frames:     []snapshot.Location{park, selgo, {Func: serveFn.Func, File: serveFn.File, Line: 61}},
			StackBytes: 8192, Labels: map[string]string{"tenant": []string{"a", "b"}[i%2]}}
		switch i {
		case 3, 4:
			g.WaitReason = "IO wait"
		case 5:
			g.Status, g.WaitReason = "running", ""
		}
		add(g)
	}
	recv := loc("main.main", "/home/dev/api/cmd/api/main.go", 94)
	for i := range 1993 {
		g := snapshot.Goroutine{ID: int64(100 + i), ParentID: 1, Status: "waiting", WaitReason: "chan receive", WaitSeconds: float64(60 + i%800),
			Origin: recv, Start: loc("main.blockRecv", "/home/dev/api/cmd/api/main.go", 30),
			Frames:     []snapshot.Location{park, chanrcv, {Func: "main.blockRecv", File: "/home/dev/api/cmd/api/main.go", Line: 31}},
			StackBytes: 8192}
		if i < 3 {
			g.ID = int64(18 + i) // the oldest ones, created first
		}
		if i >= 1990 {
			g.Status, g.WaitReason, g.WaitSeconds = "running", "", 0
		}
		add(g)
	}
	helper := loc("main.startGoRoutine", "/home/dev/api/cmd/api/spawn.go", 8)
	for i := range 30 {
		add(snapshot.Goroutine{ID: int64(3000 + i), ParentID: 1, Status: "waiting", WaitReason: "sync.Cond.Wait", WaitSeconds: 40,
			Origin: helper, Start: loc("main.worker", "/home/dev/api/cmd/api/worker.go", 12),
			Frames:     []snapshot.Location{park, {Func: "sync.(*Cond).Wait", File: "/usr/local/go/src/sync/cond.go", Line: 71}, {Func: "main.worker", File: "/home/dev/api/cmd/api/worker.go", Line: 20, Inlined: true}},
			StackBytes: 2048})
	}
	for i := range 12 {
		add(snapshot.Goroutine{ID: int64(4000 + i), ParentID: 3000, Status: "waiting", WaitReason: "sleep", WaitSeconds: 2*86400 + 4*3600,
			Origin: helper, Start: loc("main.poller", "/home/dev/api/cmd/api/poll.go", 5),
			Frames:     []snapshot.Location{park, {Func: "time.Sleep", File: "/usr/local/go/src/runtime/time.go", Line: 300}, {Func: "main.poller", File: "/home/dev/api/cmd/api/poll.go", Line: 9}},
			StackBytes: 4096})
	}
	return s
}

// textDump is what a debug=1-like text dump gives: no ids, no parents, no waits, no
// stack sizes, a few frames, origins for some.
func textDump() *snapshot.Snapshot {
	s := &snapshot.Snapshot{
		Schema: snapshot.Schema,
		Source: snapshot.Source{Kind: "dump", Backend: "text", File: "goroutines.txt"},
	}
	for i := range 40 {
		g := snapshot.Goroutine{Status: "waiting", WaitReason: "chan receive",
			Origin: loc("main.main", "/app/main.go", 94), Start: loc("main.blockRecv", "/app/main.go", 30)}
		if i%10 == 0 {
			g.Frames = []snapshot.Location{{Func: "main.blockRecv", File: "/app/main.go", Line: 31}}
		}
		s.Goroutines = append(s.Goroutines, g)
	}
	s.Goroutines = append(s.Goroutines, snapshot.Goroutine{Status: "running"})
	return s
}
