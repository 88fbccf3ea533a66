package integration

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// BenchmarkLeaksFreeze measures gorigin leaks on the leak fixture with 10,000 idle
// goroutines and a heap of small pointer-holding objects of each size in GORIGIN_LEAKS_MB
// (default "100,500"; e.g. "100,500,1024"): the longest pause the target itself saw (its
// 1 ms heartbeat, -gap), gorigin's wall time and peak RSS. GORIGIN_LEAKS_BEFORE names
// another gorigin binary (an older build) measured the same way on the same process, for
// the before/after rows of BENCHMARKS.md. Nothing is asserted: the numbers are the result.
func BenchmarkLeaksFreeze(b *testing.B) {
	needGorigin(b)
	testenv.NeedPtrace(b)
	dir := leakFixtureDir(b)
	v := hostVariant(b)
	prebuild(dir, []variant{v})
	bin := programBinary(b, dir, v)
	sizes := os.Getenv("GORIGIN_LEAKS_MB")
	if sizes == "" {
		sizes = "100,500"
	}
	tools := [][2]string{{"after", needGorigin(b)}}
	if before := os.Getenv("GORIGIN_LEAKS_BEFORE"); before != "" {
		tools = append(tools, [2]string{"before", before})
	}
	for _, s := range strings.Split(sizes, ",") {
		mb, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			b.Fatalf("GORIGIN_LEAKS_MB: %v", err)
		}
		b.Run(strconv.Itoa(mb)+"MB", func(b *testing.B) { leaksFreezeOnce(b, bin, mb, tools) })
	}
}

// leaksFreezeOnce is one heap size of BenchmarkLeaksFreeze (its own fixture, stopped at
// the end of the sub-benchmark).
func leaksFreezeOnce(b *testing.B, bin string, mb int, tools [][2]string) {
	{
		f := startFixture(b, bin, "-ballast", strconv.Itoa(mb), "-idle", "10000", "-gap")
		gap := func() time.Duration {
			body, err := f.get("/gap")
			if err != nil {
				b.Fatalf("GET /gap: %v", err)
			}
			ns, _ := strconv.ParseInt(strings.TrimSpace(string(body)), 10, 64)
			return time.Duration(ns)
		}
		gap()
		time.Sleep(300 * time.Millisecond)
		idle := gap()
		for _, tool := range tools {
			gap()
			cmd := exec.Command(tool[1], "leaks", strconv.Itoa(f.Pid))
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			start := time.Now()
			if err := cmd.Run(); err != nil {
				b.Fatalf("%s leaks: %v\n%s", tool[0], err, errb.Bytes())
			}
			wall := time.Since(start)
			paused := gap()
			rss := int64(0)
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				rss = ru.Maxrss >> 10
			}
			first, _, _ := strings.Cut(out.String(), "\n")
			b.Logf("| %d MB | %s | %v | %v | %d MB | idle gap %v, load %s | %s",
				mb, tool[0], paused.Round(time.Millisecond), wall.Round(10*time.Millisecond), rss, idle.Round(time.Millisecond), loadAverage(), first)
		}
		testenv.CheckRunsFreely(b, f.Pid, time.Second)
	}
}
