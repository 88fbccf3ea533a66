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
	// "none" runs no exporter: the targets' longest stop then is the machine's own noise
	// over the same time, the baseline for the two modes.
	for _, freeze := range []string{"none", "never", "always"} {
		b.Run("freeze="+freeze, func(b *testing.B) {
			for range b.N {
				var cmd *exec.Cmd
				addr := make(chan string, 1)
				if freeze != "none" {
					cmd = exec.Command(goriginBin, append([]string{"exporter", "--listen", "127.0.0.1:0", "--freeze", freeze, "--interval", interval.String()}, pids...)...)
					stderr, _ := cmd.StderrPipe()
					if err := cmd.Start(); err != nil {
						b.Fatal(err)
					}
					go func() {
						sc := bufio.NewScanner(stderr)
						for sc.Scan() {
							if m := exporterAddrRE.FindStringSubmatch(sc.Text()); m != nil {
								addr <- m[1]
							}
						}
					}()
					time.Sleep(interval) // the first round: reading each binary's tables the first time
				}
				for _, g := range gs {
					g.ask(b, "reset")
				}
				var c0, c1 int64
				t0 := time.Now()
				if cmd != nil {
					c0 = cpuTicks(b, cmd.Process.Pid)
				}
				time.Sleep(time.Duration(rounds) * interval)
				wall := time.Since(t0)
				var gaps []float64
				for _, g := range gs {
					ns, _ := strconv.ParseFloat(g.ask(b, "gap"), 64)
					gaps = append(gaps, ns/1e6)
				}
				slices.Sort(gaps)
				b.ReportMetric(gaps[len(gaps)/2], "target-gap-median-ms")
				b.ReportMetric(gaps[len(gaps)-1], "target-gap-max-ms")
				if cmd == nil {
					b.Logf("no exporter: targets' longest stop over %v: median %.1f ms, max %.1f ms (the machine's noise)", wall.Round(time.Second), gaps[len(gaps)/2], gaps[len(gaps)-1])
					continue
				}
				c1 = cpuTicks(b, cmd.Process.Pid)
				rss := float64(peakRSS(b, cmd.Process.Pid)) / (1 << 20)
				freezeMax, durMax, counted := exporterFigures(b, <-addr, n)
				cmd.Process.Kill() // by pid
				cmd.Wait()
				if counted != len(gs) {
					b.Errorf("the exporter counted all %d goroutines of %d targets of %d", n, counted, len(gs))
				}
				cpu := float64(c1-c0) / 100 / wall.Seconds() * 100 // USER_HZ 100
				b.ReportMetric(cpu, "exporter-cpu-%")
				b.ReportMetric(rss, "exporter-peak-MB")
				b.ReportMetric(freezeMax*1000, "reported-freeze-max-ms")
				b.ReportMetric(durMax*1000, "snapshot-max-ms")
				b.Logf("freeze %s: exporter %.1f%% of a core, peak RSS %.0f MB; snapshot up to %.0f ms, reported freeze up to %.2f ms; targets' longest stop over %d rounds: median %.1f ms, max %.1f ms (gap watcher, with the machine's noise)",
					freeze, cpu, rss, durMax*1000, freezeMax*1000, rounds, gaps[len(gaps)/2], gaps[len(gaps)-1])
			}
		})
	}
}

// exporterFigures scrapes the exporter at addr: the largest reported freeze and snapshot
// duration, in seconds, and how many targets it counted at least n goroutines in.
func exporterFigures(b *testing.B, addr string, n int) (freeze, dur float64, counted int) {
	resp, err := httpClient.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, rest, _ := strings.Cut(sc.Text(), "{")
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		switch name {
		case "gorigin_snapshot_freeze_seconds":
			freeze = max(freeze, v)
		case "gorigin_snapshot_duration_seconds":
			dur = max(dur, v)
		case "gorigin_target_goroutines":
			if v >= float64(n) {
				counted++
			}
		}
	}
	return freeze, dur, counted
}
