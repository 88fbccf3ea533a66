package integration

// What `gorigin exporter` costs: 10 targets of 10,000 goroutines (bigtarget) read every
// interval, in each freeze mode; each target's longest stop (its own gap watcher), the
// exporter's CPU and peak memory. A benchmark, not a test:
//
//	go test ./integration -run '^$' -bench ExporterFleet -benchtime 1x -timeout 30m
//
// GORIGIN_FLEET=targets,goroutines,interval,rounds changes the default 10,10000,5s,6.
// integration/BENCHMARKS.md has the figures.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// gapTarget is a bigtarget driven over stdin ("reset", "gap").
type gapTarget struct {
	pid int
	in  io.Writer
	out *bufio.Scanner
}

func (g *gapTarget) ask(t testing.TB, cmd string) string {
	fmt.Fprintln(g.in, cmd)
	if !g.out.Scan() {
		t.Fatalf("bigtarget %d: no answer to %s", g.pid, cmd)
	}
	return g.out.Text()
}

func startGapTarget(t testing.TB, bin string, n int) *gapTarget {
	cmd := exec.Command(bin, "-n", strconv.Itoa(n))
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	g := &gapTarget{pid: cmd.Process.Pid, in: in, out: bufio.NewScanner(out)}
	if !g.out.Scan() || !strings.HasPrefix(g.out.Text(), "ready ") {
		t.Fatalf("bigtarget did not say ready: %q", g.out.Text())
	}
	return g
}

// cpuTicks is a process's user+system time in clock ticks (/proc/PID/stat 14, 15).
func cpuTicks(t testing.TB, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

func BenchmarkExporterFleet(b *testing.B) {
	needGorigin(b)
	testenv.NeedPtrace(b)
	targets, n, interval, rounds := 10, 10000, 5*time.Second, 6
	if s := os.Getenv("GORIGIN_FLEET"); s != "" {
		f := strings.Split(s, ",")
		targets, _ = strconv.Atoi(f[0])
		n, _ = strconv.Atoi(f[1])
		interval, _ = time.ParseDuration(f[2])
		rounds, _ = strconv.Atoi(f[3])
	}
	dir, _ := filepath.Abs(filepath.Join("testdata", "bigtarget"))
	bin := programBinary(b, dir, hostVariant(b))
	var gs []*gapTarget
	for range targets {
		gs = append(gs, startGapTarget(b, bin, n))
	}
	pids := make([]string, len(gs))
	for i, g := range gs {
		pids[i] = strconv.Itoa(g.pid)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	b.Logf("%d targets of %d goroutines, interval %v, %d rounds; load %s", targets, n, interval, rounds, strings.Fields(string(load))[:3])
	for _, freeze := range []string{"never", "always"} {
		b.Run("freeze="+freeze, func(b *testing.B) {
			for range b.N {
				cmd := exec.Command(goriginBin, append([]string{"exporter", "--listen", "127.0.0.1:0", "--freeze", freeze, "--interval", interval.String()}, pids...)...)
				cmd.Stderr = io.Discard
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				time.Sleep(interval) // the first round: reading each binary's tables the first time
				for _, g := range gs {
					g.ask(b, "reset")
				}
				c0, t0 := cpuTicks(b, cmd.Process.Pid), time.Now()
				time.Sleep(time.Duration(rounds) * interval)
				c1, wall := cpuTicks(b, cmd.Process.Pid), time.Since(t0)
				var gaps []float64
				for _, g := range gs {
					ns, _ := strconv.ParseFloat(g.ask(b, "gap"), 64)
					gaps = append(gaps, ns/1e6)
				}
				rss := float64(peakRSS(b, cmd.Process.Pid)) / (1 << 20)
				cmd.Process.Kill()
				cmd.Wait()
				slices.Sort(gaps)
				cpu := float64(c1-c0) / 100 / wall.Seconds() * 100 // USER_HZ 100
				b.ReportMetric(cpu, "exporter-cpu-%")
				b.ReportMetric(rss, "exporter-peak-MB")
				b.ReportMetric(gaps[len(gaps)/2], "target-gap-median-ms")
				b.ReportMetric(gaps[len(gaps)-1], "target-gap-max-ms")
				b.Logf("freeze %s: exporter %.1f%% of a core, peak RSS %.0f MB; targets' longest stop over %d rounds: median %.1f ms, max %.1f ms (gap watcher, includes the machine's own noise)",
					freeze, cpu, rss, rounds, gaps[len(gaps)/2], gaps[len(gaps)-1])
			}
		})
	}
}
