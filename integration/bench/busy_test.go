package bench

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

// The busy-machine benchmarks attach gorigin while the benchmark itself keeps the CPUs busy
// with processes it starts (this test binary again, in a hog mode) and kills by PID. A
// freeze on a busy machine is judged against the gap the target already sees with nobody
// attached under the same load: the load alone keeps the target's heartbeat from running
// for tens of milliseconds, and only what gorigin adds beyond that is gorigin's.

// hogEnv selects a hog mode in TestMain: the process runs that load until killed.
const hogEnv = "GORIGIN_BENCH_HOG"

// busyHogs is how many load processes run beside the target: 16 on a 2-core machine is
// load 16+, what real servers showed when the freeze's stop phase went slow.
const busyHogs = 16

// runHog is a load process's whole life: "cpu" spins, "memory" streams through buffers far
// larger than the caches (a build's memory traffic, and CPU-bound too). It never returns.
func runHog(mode string) {
	switch mode {
	case "cpu":
		x := uint64(1)
		for {
			x = x*6364136223846793005 + 1442695040888963407
			if x == 0 {
				fmt.Println(x) // never: keeps the loop from being optimised away
			}
		}
	case "memory":
		const size = 64 << 20
		a, b := make([]byte, size), make([]byte, size)
		for i := range a {
			a[i] = byte(i)
		}
		for {
			copy(b, a)
			copy(a, b)
		}
	}
	fmt.Fprintf(os.Stderr, "%s=%q: want cpu or memory\n", hogEnv, mode)
	os.Exit(2)
}

// startLoad starts n load processes of the given mode and returns a function that kills
// them by PID and reaps them. The caller must call it.
func startLoad(b *testing.B, mode string, n int) (stop func()) {
	var cmds []*exec.Cmd
	stop = func() {
		for _, c := range cmds {
			c.Process.Kill()
		}
		for _, c := range cmds {
			c.Wait()
		}
		cmds = nil
	}
	for range n {
		c := exec.Command(os.Args[0], "-test.run", "^$")
		c.Env = append(os.Environ(), hogEnv+"="+mode)
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // gone with the test binary
		if err := c.Start(); err != nil {
			stop()
			b.Fatalf("start a %s load process: %v", mode, err)
		}
		cmds = append(cmds, c)
	}
	// Let the scheduler settle with the load running (the memory hogs fault their buffers in).
	time.Sleep(2 * time.Second)
	return stop
}

// idleGap is the largest gap of the target over a window of length d with no tool running.
func idleGap(t *target, d time.Duration) (time.Duration, error) {
	if err := t.reset(); err != nil {
		return 0, err
	}
	time.Sleep(d)
	return t.freeze()
}

// benchBusy attaches gorigin b.N times to the shared target with n load processes of the
// given mode running. Before each attach it measures the target's idle gap over a window as
// long as the previous attach took, so that the two maxima are taken over equal times.
func benchBusy(b *testing.B, mode string) {
	t := sharedTarget(b)
	gorigin, err := goriginBinary(b)
	if err != nil {
		b.Fatal(err)
	}
	stop := startLoad(b, mode, busyHogs)
	defer stop()
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("%d %s load processes running, load average %s", busyHogs, mode, load)
	}
	var freeze, idle, beyond, after, reported, wall []time.Duration
	window := 500 * time.Millisecond
	for i := 0; i < b.N; i++ {
		gap, err := idleGap(t, window)
		if err != nil {
			b.Fatal(err)
		}
		a, err := attachOnce(t, gorigin, shared.dir)
		if err != nil {
			b.Fatalf("attach %d of %d under %s load: %v", i+1, b.N, mode, err)
		}
		// The next idle window is as long as this attach took, up to 2 s (the longest gap
		// grows with the window; gorigin's process takes about 0.4 s on a quiet machine).
		window = min(a.wall, 2*time.Second)
		freeze, idle, reported, wall = append(freeze, a.freeze), append(idle, gap), append(reported, a.reported), append(wall, a.wall)
		beyond, after = append(beyond, max(a.freeze-gap, 0)), append(after, a.after)
		b.Logf("attach %d: target saw %.1f ms (then at most %.1f ms), idle gap %.1f ms over %.0f ms, gorigin reported %.1f ms",
			i+1, ms(a.freeze), ms(a.after), ms(gap), ms(a.wall), ms(a.reported))
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(busyHogs), "load-processes")
	b.ReportMetric(ms(median(freeze)), "target-freeze-ms")
	b.ReportMetric(ms(median(idle)), "idle-gap-ms")
	b.ReportMetric(ms(median(beyond)), "beyond-idle-ms")
	b.ReportMetric(ms(slices.Min(beyond)), "best-beyond-idle-ms")
	b.ReportMetric(ms(median(after)), "after-thaw-gap-ms")
	b.ReportMetric(ms(median(reported)), "reported-freeze-ms")
	b.ReportMetric(ms(median(wall)), "wall-ms")
}

// BenchmarkAttach100kBusyCPU: gorigin attach with 16 CPU-bound processes beside the target.
func BenchmarkAttach100kBusyCPU(b *testing.B) { benchBusy(b, "cpu") }

// BenchmarkAttach100kBusyMemory: the same with 16 processes streaming through 64 MB buffers.
func BenchmarkAttach100kBusyMemory(b *testing.B) { benchBusy(b, "memory") }
