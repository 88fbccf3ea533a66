package bench

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The suite's readers of the tools' answers, on answers the real tools gave for
// "bigtarget -n 1000" (testdata): gorigin's text table and dlv's goroutines -group goloc.

func TestTextGroups(t *testing.T) {
	out, err := os.ReadFile("testdata/gorigin-text-1000.txt")
	if err != nil {
		t.Fatal(err)
	}
	counts, states := textGroups(out)
	if err := checkCounts(counts, 1000); err != nil {
		t.Error(err)
	}
	for _, o := range bigtargetOrigins(1000) {
		if states[o.fn] != o.wait {
			t.Errorf("%s: state %q, want %q", o.fn, states[o.fn], o.wait)
		}
	}
	if f := frozenHeader.FindSubmatch(out); f == nil || string(f[1]) != "1.0" || string(f[2]) != "ms" {
		t.Errorf("frozen header: got %q", f)
	}
	// One origin short: the check must see it.
	counts["main.spawnSenders"]--
	if err := checkCounts(counts, 1000); err == nil {
		t.Error("checkCounts accepted a count one short")
	}
}

func TestDlvOrigins(t *testing.T) {
	out, err := os.ReadFile("testdata/dlv-goloc-1000.txt")
	if err != nil {
		t.Fatal(err)
	}
	counts, total := dlvOrigins(out)
	if err := checkCounts(counts, 1000); err != nil {
		t.Error(err)
	}
	if total < 1000 || total > 1020 {
		t.Errorf("total %d, want 1000 parked plus a few", total)
	}
	if _, ok := verdict(counts, 2000, ""); ok {
		t.Error("verdict accepted the counts of 1000 goroutines for 2000")
	}
}

func TestReplaceSection(t *testing.T) {
	doc := "# B\n\nintro\n" + suiteMarker[0] + "\nold table\n" + suiteMarker[1] + "\n\nhistory\n"
	got, err := replaceSection([]byte(doc), "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# B\n\nintro\n" + suiteMarker[0] + "\nnew table\n" + suiteMarker[1] + "\n\nhistory\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := replaceSection([]byte("no markers"), "x"); err == nil {
		t.Error("a file without markers was accepted")
	}
}

func TestMarkdownRatios(t *testing.T) {
	r := sizeResult{n: 100000, loadBefore: "1", loadAfter: "2", targetRSS: 3e8, coreBytes: -1,
		live: []row{
			{tool: "gorigin attach", runs: 3, freeze: 20 * time.Millisecond, maxFreeze: 25 * time.Millisecond, reported: -1, wall: 800 * time.Millisecond, rss: 2e8, answer: "ok", ok: true},
			{tool: "dlv attach + goroutines -group goloc", runs: 1, freeze: 10 * time.Second, maxFreeze: 10 * time.Second, reported: -1, wall: 12 * time.Second, rss: 4e8, answer: "ok", ok: true},
			{tool: "pprof goroutine?debug=2", runs: 3, freeze: 300 * time.Millisecond, maxFreeze: 400 * time.Millisecond, reported: -1, wall: 1600 * time.Millisecond, rss: -1, answer: "truncated", ok: false},
		}}
	md := markdown("test machine", time.Unix(0, 0), []sizeResult{r})
	for _, want := range []string{
		"| dlv attach + goroutines -group goloc | 1 | 10,000 / 10,000 | — | 12,000 | 400 | 500 | 15 | ✓ ok |",
		"| pprof goroutine?debug=2 | 3 | 300 / 400 | — | 1,600 | — | 15 (answer wrong) | 2.00 (answer wrong) | ✗ truncated |",
		"| 100,000 goroutines frozen < 30 ms | 20 ms (max 25) | yes |",
		"| 100,000 goroutines grouped end to end < 1 s | 800 ms | yes |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestToolPeakRSS checks runTool's peak RSS against what a tool is known to use: a tool
// that holds 64 MB shows that and a little, and a small tool started while this test
// process holds 128 MB shows far less (rusage alone would report the 128 MB).
func TestToolPeakRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 128 MB; skipped in -short")
	}
	held := make([]byte, 128<<20)
	for i := 0; i < len(held); i += 4096 {
		held[i] = 1
	}
	_, small, err := runTool(time.Minute, "", nil, "sleep", "0.3")
	if err != nil {
		t.Fatal(err)
	}
	if small <= 0 || small > 48<<20 {
		t.Errorf("sleep: peak RSS %d MB, want a few MB (not this test process's 128 MB and more)", small>>20)
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not on PATH: the large-tool half needs it")
	}
	_, big, err := runTool(time.Minute, "", nil, "python3", "-c", "import time; b = bytearray(64 << 20); time.sleep(0.3)")
	if err != nil {
		t.Fatal(err)
	}
	if big < 64<<20 || big > 112<<20 {
		t.Errorf("python3 holding 64 MB: peak RSS %d MB, want 64 MB and a little", big>>20)
	}
	held[len(held)-1] = 2 // keep held alive until here
}
