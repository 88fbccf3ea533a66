package dumpbench

import (
	"testing"
	"time"
)

// speedTolerance absorbs a shared machine's noise: gorigin fails the check only when it
// is this much slower than the faster peer (the benchmark shows the real ratio).
const speedTolerance = 1.15

// TestGoriginAtLeastAsFast parses the dump with each parser in turn, three rounds, and
// compares the cheapest round of each in CPU time (garbage collection included; wall
// time on a shared machine measures the neighbours): gorigin must not cost more than the
// faster of gostackparse and panicparse (beyond speedTolerance).
func TestGoriginAtLeastAsFast(t *testing.T) {
	data := theDump(t)
	best := map[string]time.Duration{}
	parsers := map[string]func(){
		"gorigin":      func() { _, _ = parseGorigin(data) },
		"gostackparse": func() { _, _ = parseGostackparse(data) },
		"panicparse":   func() { _, _ = parsePanicparse(data) },
	}
	for range 3 {
		for _, name := range []string{"gorigin", "gostackparse", "panicparse"} {
			start := cpuTime()
			parsers[name]()
			if d := cpuTime() - start; best[name] == 0 || d < best[name] {
				best[name] = d
			}
		}
	}
	peer := min(best["gostackparse"], best["panicparse"])
	mbs := func(d time.Duration) float64 { return float64(len(data)) / (1 << 20) / d.Seconds() }
	t.Logf("%.1f MB: gorigin %.0f MB/cpu-s, gostackparse %.0f MB/cpu-s, panicparse %.0f MB/cpu-s; faster peer cost / gorigin cost = %.2f",
		float64(len(data))/(1<<20), mbs(best["gorigin"]), mbs(best["gostackparse"]), mbs(best["panicparse"]),
		float64(peer)/float64(best["gorigin"]))
	if float64(best["gorigin"]) > speedTolerance*float64(peer) {
		t.Errorf("gorigin took %v, the faster peer %v: gorigin must be at least as fast", best["gorigin"], peer)
	}
}
