package integration

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestMaxFreezeAnyValue: whatever --max-freeze is given, from the 1 ms minimum up, gorigin
// gives a result and exits 0. When the limit is hit the result says so: a freeze longer than
// the limit is marked partial, a freeze given up because a thread did not stop in time is
// read running ("not frozen") with a warning; a result that is not partial holds exactly the
// goroutines the runtime's own debug=2 dumps show, go statement by go statement. A value
// below the minimum is exit 2 with the minimum in the message.
func TestMaxFreezeAnyValue(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	v := hostVariant(t)
	e := expect(t, v, extraGoroutines)
	f := startFixture(t, fixtureBinary(t, v), "-n", strconv.Itoa(extraGoroutines))
	pid := strconv.Itoa(f.Pid)

	r := runGorigin(t, nil, "attach", pid, "--max-freeze", "500us")
	if r.Code != 2 || !strings.Contains(string(r.Stderr), "give 1ms or more") {
		t.Errorf("--max-freeze 500us: want exit 2 naming the 1ms minimum; got %v", r)
	}

	outcomes := map[string]int{}
	for _, limit := range []time.Duration{time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond} {
		for i := 0; i < 4; i++ {
			before := f.debug2(t)
			r := runGorigin(t, nil, "attach", pid, "--format", "json", "--max-freeze", limit.String())
			after := f.debug2(t)
			if r.Code != 0 {
				t.Fatalf("--max-freeze %v: want a result (exit 0), got %v", limit, r)
			}
			snap, err := snapshot.Decode(strings.NewReader(string(r.Stdout)))
			if err != nil {
				t.Fatalf("--max-freeze %v: %v", limit, err)
			}
			src := snap.Source
			froze := time.Duration(src.FreezeMicros) * time.Microsecond
			switch {
			case src.Freeze == snapshot.FreezeNever:
				if src.FreezeMicros != 0 || !strings.Contains(strings.Join(snap.Warnings, "\n"), "did not stop") {
					t.Errorf("--max-freeze %v: read running, frozen %v, warnings %q: want no freeze time and a warning that a thread did not stop", limit, froze, snap.Warnings)
				}
				// Read as --freeze never reads: the parked goroutines are all there.
				compareWithOracle(t, e, snap, before, after, compareOptions{changedOK: map[string]bool{busyStatement: true}})
				outcomes["read running"]++
			case froze > limit:
				if !src.Partial || len(snap.Warnings) == 0 {
					t.Errorf("--max-freeze %v: frozen %v and not marked partial with a reason (warnings %q)", limit, froze, snap.Warnings)
				}
				outcomes["partial"]++
			default:
				if src.Partial {
					t.Errorf("--max-freeze %v: frozen %v, within the limit, yet partial: %q", limit, froze, snap.Warnings)
				}
				compareWithOracle(t, e, snap, before, after, compareOptions{changedOK: map[string]bool{busyStatement: true}})
				outcomes["within the limit"]++
			}
			testenv.CheckRunsFreely(t, f.Pid, time.Second)
		}
	}
	t.Logf("outcomes: %v", outcomes)
	f.checkAnswers(t)
}
