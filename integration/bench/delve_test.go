package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// BenchmarkAttachDelve100k attaches gorigin with --backend delve (Delve's pkg/proc
// embedded) once per iteration, checks the snapshot as BenchmarkAttach100k does, and reports
// its freeze and wall time against gorigin's native backend (peer-…/gorigin-…) and against
// dlv's own "goroutines -group goloc" (dlv-…/delve-backend-…, > 1 means the Delve backend
// is faster than dlv) on the same target in the same run.
func BenchmarkAttachDelve100k(b *testing.B) {
	t := sharedTarget(b)
	gorigin, err := goriginBinary(b)
	if err != nil {
		b.Fatal(err)
	}
	var freeze, reported, wall []time.Duration
	var peak int64
	for i := 0; i < b.N; i++ {
		out := filepath.Join(shared.dir, "snapshot-delve.json")
		if err := t.reset(); err != nil {
			b.Fatal(err)
		}
		w, rss, runErr := runTool(2*time.Minute, "", nil, gorigin, "attach", strconv.Itoa(t.pid),
			"--backend", "delve", "--max-freeze", "60s", "--format", "json", "-o", out)
		f, err := t.freeze()
		if runErr != nil {
			b.Fatalf("gorigin attach --backend delve: %v", runErr)
		}
		if err != nil {
			b.Fatal(err)
		}
		if err := t.checkRunning(); err != nil {
			b.Fatalf("after gorigin attach --backend delve: %v", err)
		}
		s, err := readSnapshot(out)
		if err == nil {
			err = checkSnapshot(s, t.pid, t.n)
		}
		if err != nil {
			b.Fatalf("gorigin attach --backend delve: %v", err)
		}
		freeze, wall = append(freeze, f), append(wall, w)
		reported = append(reported, time.Duration(s.Source.FreezeMicros)*time.Microsecond)
		peak = max(peak, rss)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(t.n), "goroutines")
	b.ReportMetric(ms(median(freeze)), "target-freeze-ms")
	b.ReportMetric(ms(slices.Max(freeze)), "max-target-freeze-ms")
	b.ReportMetric(ms(median(reported)), "reported-freeze-ms")
	b.ReportMetric(ms(median(wall)), "wall-ms")
	b.ReportMetric(float64(peak)/1e6, "peak-rss-MB")
	reportRatios(b, t, median(freeze), median(wall))
	if dlv, err := exec.LookPath("dlv"); err != nil {
		b.Logf("dlv is not on PATH: no ratio against dlv itself")
	} else {
		dlvOnce.Do(func() { dlvRun = measureDlv(t, dlv) })
		if dlvRun.err == nil {
			b.ReportMetric(ms(dlvRun.freeze)/max(ms(median(freeze)), 0.01), "dlv-freeze/delve-backend-freeze")
			b.ReportMetric(ms(dlvRun.wall)/max(ms(median(wall)), 0.01), "dlv-wall/delve-backend-wall")
		}
	}
}

// measureDlv is BenchmarkPeerDlv_100k's measurement.
func measureDlv(t *target, dlv string) toolRun {
	o, out := measureTool(t, "goroutines -group goloc\nexit\nn\n", dlv,
		"attach", strconv.Itoa(t.pid), "--allow-non-terminal-interactive=true", "--check-go-version=false")
	_, o.listed = dlvOrigins(out)
	return o
}

func readSnapshot(path string) (*snapshot.Snapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("no snapshot written: %w", err)
	}
	defer os.Remove(path)
	var s snapshot.Snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("snapshot is not JSON: %w", err)
	}
	return &s, nil
}
