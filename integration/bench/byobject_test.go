package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// BenchmarkAttachByObject measures what --by object adds to the freeze: per iteration one
// plain "gorigin attach" and one "gorigin attach --by object" of the shared bigtarget, each
// timed by the target's own heartbeat. --by object reads the goroutines' g structs again,
// their sudogs and the executable's globals before the thaw. Metrics are medians;
// object/plain is the ratio of the medians. Each --by object snapshot must put
// bigtarget's channel receivers on one channel and its mutex and Cond waiters on one
// object each.
//
//	GORIGIN_BENCH_N=100000 go test ./integration/bench -run '^$' -bench BenchmarkAttachByObject -benchtime 5x
func BenchmarkAttachByObject(b *testing.B) {
	t, gorigin, idle := attachSetup(b)
	var plain, object, plainReported, objectReported []time.Duration
	for i := 0; i < b.N; i++ {
		a, err := attachOnce(t, gorigin, sharedDir(b))
		if err != nil {
			b.Fatalf("attach %d of %d: %v", i+1, b.N, err)
		}
		plain, plainReported = append(plain, a.freeze), append(plainReported, a.reported)
		freeze, reported, err := attachByObject(t, gorigin, sharedDir(b))
		if err != nil {
			b.Fatalf("attach --by object %d of %d: %v", i+1, b.N, err)
		}
		object, objectReported = append(object, freeze), append(objectReported, reported)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(t.n), "goroutines")
	b.ReportMetric(ms(median(plain)), "plain-target-freeze-ms")
	b.ReportMetric(ms(median(object)), "object-target-freeze-ms")
	b.ReportMetric(ms(median(plainReported)), "plain-reported-freeze-ms")
	b.ReportMetric(ms(median(objectReported)), "object-reported-freeze-ms")
	b.ReportMetric(ms(median(object))/max(ms(median(plain)), 0.01), "object/plain")
	b.ReportMetric(ms(idle), "idle-freeze-ms")
}

// attachByObject runs "gorigin attach PID --by object --format json" against t, checks
// the snapshot and its wait objects, and returns the freeze the target saw and the one
// gorigin reported.
func attachByObject(t *target, gorigin, dir string) (time.Duration, time.Duration, error) {
	out := filepath.Join(dir, "objects.json")
	defer os.Remove(out)
	if err := t.reset(); err != nil {
		return 0, 0, err
	}
	_, _, runErr := runTool(2*time.Minute, "", nil, gorigin, "attach", strconv.Itoa(t.pid), "--by", "object", "--format", "json", "-o", out)
	freeze, err := t.freeze()
	if runErr != nil {
		return 0, 0, runErr
	}
	if err != nil {
		return 0, 0, err
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return 0, 0, err
	}
	var s snapshot.Snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return 0, 0, err
	}
	if err := checkSnapshot(&s, t.pid, t.n); err != nil {
		return 0, 0, err
	}
	if err := checkObjects(&s, t.n); err != nil {
		return 0, 0, err
	}
	return freeze, time.Duration(s.Source.FreezeMicros) * time.Microsecond, nil
}

// checkObjects requires each of bigtarget's channel, mutex and Cond go statements to
// have every goroutine on one and the same object (bigtarget: never, held, cond, nobody).
func checkObjects(s *snapshot.Snapshot, n int) error {
	single := map[string]string{"main.spawnWorkers": "chan", "main.spawnWatchers": "sema", "main.spawnWaiters": "cond", "main.spawnSenders": "chan"}
	objs := map[string]map[string]int{}
	for _, g := range s.Goroutines {
		if g.Origin == nil || single[g.Origin.Func] == "" {
			continue
		}
		if len(g.WaitsOn) != 1 || g.WaitsOn[0].Kind != single[g.Origin.Func] {
			return fmt.Errorf("goroutine %d of %s waits on %+v, want one %s", g.ID, g.Origin.Func, g.WaitsOn, single[g.Origin.Func])
		}
		if objs[g.Origin.Func] == nil {
			objs[g.Origin.Func] = map[string]int{}
		}
		objs[g.Origin.Func][g.WaitsOn[0].Addr]++
	}
	for _, o := range bigtargetOrigins(n) {
		if single[o.fn] == "" || o.count == 0 {
			continue
		}
		if len(objs[o.fn]) != 1 {
			return fmt.Errorf("the goroutines of %s wait on %d objects, want 1: %v", o.fn, len(objs[o.fn]), objs[o.fn])
		}
	}
	return nil
}
