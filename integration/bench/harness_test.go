package bench

import (
	"net/http"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestTargetMeasuresItsOwnFreeze checks the oracle of every benchmark: stopping the
// bigtarget for a known time shows up as a gap at least that long, and an idle target
// shows none of that size.
func TestTargetMeasuresItsOwnFreeze(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bigtarget; skipped in -short")
	}
	tg, err := startTarget(1000)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.stop)

	const stopFor = 80 * time.Millisecond
	for _, tc := range []struct {
		name     string
		stop     bool
		min, max time.Duration
	}{
		{"idle target has no long gap", false, 0, stopFor / 2},
		{"SIGSTOP for 80ms is an 80ms gap", true, stopFor, stopFor + 200*time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tg.reset(); err != nil {
				t.Fatal(err)
			}
			if tc.stop {
				if err := syscall.Kill(tg.pid, syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
				time.Sleep(stopFor)
				if err := syscall.Kill(tg.pid, syscall.SIGCONT); err != nil {
					t.Fatal(err)
				}
			} else {
				time.Sleep(stopFor)
			}
			got, err := tg.freeze()
			if err != nil {
				t.Fatal(err)
			}
			if got < tc.min || got > tc.max {
				t.Errorf("freeze %v, want between %v and %v", got, tc.min, tc.max)
			}
			if tc.stop {
				// The gap after the largest leaves the stop out: it is the idle kind.
				after, err := tg.afterFreeze()
				if err != nil {
					t.Fatal(err)
				}
				if after >= stopFor/2 {
					t.Errorf("largest gap after the %v stop: %v, want the idle kind (under %v)", stopFor, after, stopFor/2)
				}
			}
			if err := tg.checkRunning(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestTargetParksTheGoroutinesItSays checks the bigtarget against the runtime's own dump:
// -n goroutines plus the few in select and on the mutex, and its debug=2 dump holds them.
func TestTargetParksTheGoroutinesItSays(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bigtarget; skipped in -short")
	}
	const n = 1000
	tg, err := startTarget(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.stop)
	body, err := fetch(&http.Client{Timeout: time.Minute}, "http://"+tg.addr+"/debug/pprof/goroutine?debug=2")
	if err != nil {
		t.Fatal(err)
	}
	// n parked, main, the gap watcher, the pprof server...; the runtime's own system
	// goroutines are not in the dump.
	if got, want := countDumpGoroutines(body), n+2; got < want {
		t.Errorf("debug=2 dump lists %d goroutines, want at least %d", got, want)
	}
	if err := checkCounts(dumpOrigins(body), n); err != nil {
		t.Errorf("debug=2 dump has %v", err)
	}
	for _, want := range bigtargetOrigins(n) {
		// "goroutine 7 [chan receive]:" or "goroutine 7 [sleep, 2 minutes]:"
		re := regexp.MustCompile(`(?m)^goroutine \d+ \[` + regexp.QuoteMeta(want.wait) + `[,\]]`)
		if got := len(re.FindAllIndex(body, -1)); got < want.count {
			t.Errorf("debug=2 dump has %d goroutines in %q, want at least %d (those of %s)", got, want.wait, want.count, want.fn)
		}
	}
	if err := tg.checkRunning(); err != nil {
		t.Error(err)
	}
}

// TestCheckSnapshot is the benchmark's check that a gorigin run was not broken.
func TestCheckSnapshot(t *testing.T) {
	const pid, n = 42, 10
	// workers stands for the first origin's count, the others are bigtarget's for n.
	build := func(workers, extra int, edit func(*snapshot.Snapshot)) *snapshot.Snapshot {
		s := &snapshot.Snapshot{Schema: snapshot.Schema, Source: snapshot.Source{Kind: "live", Backend: "native", Pid: pid}}
		id := int64(1)
		add := func(origin string, count int, wait string) {
			for range count {
				s.Goroutines = append(s.Goroutines, snapshot.Goroutine{ID: id, Status: "waiting", WaitReason: wait, Origin: &snapshot.Location{Func: origin}})
				id++
			}
		}
		for i, o := range bigtargetOrigins(n) {
			if i == 0 {
				o.count = workers
			}
			add(o.fn, o.count, o.wait)
		}
		add("main.main", extra, "sleep")
		if edit != nil {
			edit(s)
		}
		return s
	}
	for _, tc := range []struct {
		name string
		s    *snapshot.Snapshot
		ok   bool
	}{
		{"complete snapshot passes", build(4, 2, nil), true},
		{"fewer than n goroutines fails", build(3, 0, nil), false},
		{"enough goroutines but one origin short fails", build(3, 2, nil), false},
		{"an origin with too many fails", build(5, 2, nil), false},
		{"a goroutine in the wrong state fails", build(4, 2, func(s *snapshot.Snapshot) { s.Goroutines[0].WaitReason = "select" }), false},
		{"partial snapshot fails", build(4, 2, func(s *snapshot.Snapshot) { s.Source.Partial = true }), false},
		{"another pid fails", build(4, 2, func(s *snapshot.Snapshot) { s.Source.Pid = 7 }), false},
		{"a core snapshot fails", build(4, 2, func(s *snapshot.Snapshot) { s.Source.Kind = "core" }), false},
		{"an invalid snapshot fails", build(4, 2, func(s *snapshot.Snapshot) { s.Goroutines[0].Status = "napping" }), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSnapshot(tc.s, pid, n)
			if (err == nil) != tc.ok {
				t.Errorf("checkSnapshot = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
