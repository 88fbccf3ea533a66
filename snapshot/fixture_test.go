package snapshot

import (
	"slices"
)

// fixture is a hand-built process: a main goroutine, workers and pollers spawned
// through one helper (func startGoRoutine(f func()) { go f() }), one handler function
// started from two go statements, and a runtime goroutine.
func fixture() []Goroutine {
	loc := func(fn, file string, line int) *Location { return &Location{Func: fn, File: file, Line: line} }
	helper := loc("main.startGoRoutine", "/app/helper.go", 5)
	park := Location{Func: "runtime.gopark", File: "/go/src/runtime/proc.go", Line: 435}
	recv := []Location{park, {Func: "runtime.chanrecv", File: "/go/src/runtime/chan.go", Line: 664}, {Func: "runtime.chanrecv1", File: "/go/src/runtime/chan.go", Line: 506}}
	worker := func(id int64, line int, status Status, reason string, tenant string) Goroutine {
		return Goroutine{
			ID: id, ParentID: 1, Status: status, WaitReason: reason, WaitSeconds: float64(id * 10),
			Origin: helper, Start: loc("main.worker", "/app/worker.go", 10),
			Frames:     append(slices.Clone(recv), Location{Func: "main.worker", File: "/app/worker.go", Line: line}),
			StackBytes: 8192, Labels: map[string]string{"tenant": tenant},
		}
	}
	poller := func(id int64) Goroutine {
		return Goroutine{
			ID: id, ParentID: 1, Status: "waiting", WaitReason: "select", WaitSeconds: 60,
			Origin: helper, Start: loc("main.poller", "/app/poll.go", 3),
			Frames:     []Location{park, {Func: "runtime.selectgo", File: "/go/src/runtime/select.go", Line: 335}, {Func: "main.poller", File: "/app/poll.go", Line: 8}},
			StackBytes: 4096,
		}
	}
	handleFrames := []Location{
		{Func: "internal/runtime/syscall.Syscall6", File: "/go/src/internal/runtime/syscall/asm.s", Line: 36},
		{Func: "runtime/internal/x.Y", File: "/go/src/runtime/internal/x/y.go", Line: 1},
		{Func: "main.handle", File: "/app/handle.go", Line: 3},
	}
	return []Goroutine{
		{ID: 1, Status: "waiting", WaitReason: "select", WaitSeconds: 900, Start: loc("runtime.main", "/go/src/runtime/proc.go", 145),
			Frames:     []Location{park, {Func: "runtime.selectgo", File: "/go/src/runtime/select.go", Line: 335}, {Func: "main.main", File: "/app/main.go", Line: 20}, {Func: "runtime.main", File: "/go/src/runtime/proc.go", Line: 283}},
			StackBytes: 16384},
		{ID: 2, ParentID: 1, Status: "waiting", WaitReason: "GC sweep wait", System: true,
			Origin: loc("runtime.gcenable", "/go/src/runtime/mgc.go", 204), Start: loc("runtime.bgsweep", "/go/src/runtime/mgcsweep.go", 278),
			Frames: []Location{park, {Func: "runtime.goparkunlock", File: "/go/src/runtime/proc.go", Line: 441}, {Func: "runtime.bgsweep", File: "/go/src/runtime/mgcsweep.go", Line: 317}}},
		worker(12, 15, "running", "", "b"),
		worker(10, 12, "waiting", "chan receive", "a"),
		worker(11, 12, "waiting", "chan receive", "a"),
		poller(21),
		poller(20),
		{ID: 30, ParentID: 1, Status: "runnable", Origin: loc("main.main", "/app/main.go", 30), Start: loc("main.handle", "/app/handle.go", 1),
			Frames: handleFrames, Labels: map[string]string{"tenant": "a"}},
		{ID: 31, ParentID: 1, Status: "syscall", Origin: loc("main.main", "/app/main.go", 30), Start: loc("main.handle", "/app/handle.go", 1),
			Frames: handleFrames, Labels: map[string]string{"tenant": ""}},
		{ID: 40, ParentID: 30, Status: "waiting", WaitReason: "IO wait", Origin: loc("main.serve", "/app/main.go", 50), Start: loc("main.handle", "/app/handle.go", 1)},
	}
}

// ids returns the ids of gs[i] for i in idx, sorted.
func ids(gs []Goroutine, idx []int) []int64 {
	var out []int64
	for _, i := range idx {
		out = append(out, gs[i].ID)
	}
	slices.Sort(out)
	return out
}

func allIDs(gs []Goroutine) []int64 {
	out := []int64{}
	for _, g := range gs {
		out = append(out, g.ID)
	}
	slices.Sort(out)
	return out
}
