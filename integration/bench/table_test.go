package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machine describes where the suite ran: CPU, cores, memory, kernel and tool versions.
func machine() string {
	var b strings.Builder
	cpu := "?"
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(info), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "?"
	if info, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(info), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Fprintf(&b, "%d × %s, %s RAM, Linux %s", runtime.NumCPU(), cpu, mem, strings.TrimSpace(string(kernel)))
	for _, v := range [][]string{{"go", "version"}, {"gdb", "--version"}, {"dlv", "version"}} {
		out, err := exec.Command(v[0], v[1:]...).Output()
		line := "not installed"
		if err == nil {
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, "ersion") || strings.HasPrefix(l, "go version") || strings.HasPrefix(l, "GNU gdb") {
					line = strings.TrimSpace(l)
					break
				}
			}
		}
		fmt.Fprintf(&b, "; %s: %s", v[0], line)
	}
	return b.String()
}

// markdown renders the suite's results: one table of live tools and one of core readers
// per size, with ratios to gorigin's default run, and the project's targets.
func markdown(machine string, date time.Time, results []sizeResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Written by `go test ./integration/bench -run TestSuite -timeout 3h -args -suite -write-table ../BENCHMARKS.md` on %s.\n\n",
		date.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Machine: %s.\n\n", machine)
	b.WriteString("`freeze` is the longest stop the target measured itself (median over the runs; max after the slash), " +
		"`reported` gorigin's own figure, `wall` the tool's process from start to exit (median), `RSS` the tool's peak resident memory. " +
		"`÷ gorigin` is the tool's figure over `gorigin attach`'s (live) or `gorigin core`'s (cores): > 1 means gorigin is faster. " +
		"`answer` is checked against the counts bigtarget started from each of its six go statements. " +
		"`idle gap` is the longest gap the target saw over 100 ms with no tool running: the noise floor of `freeze` on the machine at that moment.\n")
	for _, r := range results {
		fmt.Fprintf(&b, "\n### %s goroutines (load average %s before, %s after; target RSS %s MB; idle gap %s ms)\n\n",
			commas(r.n), r.loadBefore, r.loadAfter, mb(r.targetRSS), msCell(r.idleFreeze))
		b.WriteString("| tool | runs | freeze ms (median / max) | reported ms | wall ms | RSS MB | freeze ÷ gorigin | wall ÷ gorigin | answer |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
		base := baseline(r.live, "gorigin attach")
		for _, row := range r.live {
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", toolName(row), row.runs,
				freezeCell(row), msCell(row.reported), msCell(row.wall), mb(row.rss),
				ratio(row.freeze, base.freeze, row.ok, base.ok), ratio(row.wall, base.wall, row.ok, base.ok), answerCell(row))
		}
		if len(r.core) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\nCore of the same process (%s MB, written by gdb's `gcore`):\n\n", mb(r.coreBytes))
		b.WriteString("| tool | runs | wall ms | RSS MB | wall ÷ gorigin core | answer |\n")
		b.WriteString("|---|---:|---:|---:|---:|---|\n")
		cbase := baseline(r.core, "gorigin core")
		for _, row := range r.core {
			rat := ratio(row.wall, cbase.wall, row.ok, cbase.ok)
			if strings.HasPrefix(row.tool, "gcore") {
				rat = "—"
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s |\n", toolName(row), row.runs, msCell(row.wall), mb(row.rss), rat, answerCell(row))
		}
	}
	b.WriteString("\n### The targets (2 cores)\n\n| target | measured | met |\n|---|---|---|\n")
	for _, r := range results {
		base := baseline(r.live, "gorigin attach")
		if !base.ok {
			continue
		}
		switch r.n {
		case 100000:
			fmt.Fprintf(&b, "| 100,000 goroutines frozen < 30 ms | %s ms (max %s) | %s |\n", msCell(base.freeze), msCell(base.maxFreeze), yes(base.freeze < 30*time.Millisecond))
			fmt.Fprintf(&b, "| 100,000 goroutines grouped end to end < 1 s | %s ms | %s |\n", msCell(base.wall), yes(base.wall < time.Second))
		case 1000000:
			fmt.Fprintf(&b, "| 1,000,000 goroutines grouped < 10 s | %s ms | %s |\n", msCell(base.wall), yes(base.wall < 10*time.Second))
			fmt.Fprintf(&b, "| 1,000,000 goroutines in < 1 GB RSS | %s MB | %s |\n", mb(base.rss), yes(base.rss >= 0 && base.rss < 1e9))
		}
	}
	return b.String()
}

// baseline is the row named name, or a row that is not ok.
func baseline(rows []row, name string) row {
	for _, r := range rows {
		if r.tool == name {
			return r
		}
	}
	return row{}
}

func toolName(r row) string {
	if strings.HasPrefix(r.tool, "gorigin") {
		return "**" + r.tool + "**"
	}
	return r.tool
}

func freezeCell(r row) string {
	if r.freeze < 0 {
		return "—"
	}
	return msCell(r.freeze) + " / " + msCell(r.maxFreeze)
}

func msCell(d time.Duration) string {
	switch {
	case d < 0:
		return "—"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f", ms(d))
	default:
		return commas(int(ms(d) + 0.5))
	}
}

func mb(b int64) string {
	if b < 0 {
		return "—"
	}
	return commas(int(float64(b)/1e6 + 0.5))
}

// ratio is a peer's figure over gorigin's; the denominator is floored at 0.1 ms (below the
// freeze watcher's resolution), and there is no ratio when either answer was wrong.
func ratio(peer, gorigin time.Duration, peerOK, goriginOK bool) string {
	if peer < 0 || gorigin < 0 || !goriginOK {
		return "—"
	}
	v := float64(peer) / float64(max(gorigin, 100*time.Microsecond))
	s := fmt.Sprintf("%.2f", v)
	if v >= 10 {
		s = commas(int(v + 0.5))
	}
	if !peerOK {
		s += " (answer wrong)"
	}
	return s
}

func answerCell(r row) string {
	a := strings.ReplaceAll(r.answer, "|", "\\|")
	if r.ok {
		return "✓ " + a
	}
	return "✗ " + a
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// commas writes n with thousands separators: 1000000 → 1,000,000.
func commas(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// replaceSection puts section between doc's suite markers, replacing what was there.
func replaceSection(doc []byte, section string) ([]byte, error) {
	begin := bytes.Index(doc, []byte(suiteMarker[0]))
	end := bytes.Index(doc, []byte(suiteMarker[1]))
	if begin < 0 || end < begin {
		return nil, errors.New("the file has no " + suiteMarker[0] + " … " + suiteMarker[1] + " section to replace: add the two markers where the tables go")
	}
	var out bytes.Buffer
	out.Write(doc[:begin+len(suiteMarker[0])])
	out.WriteString("\n")
	out.WriteString(section)
	out.Write(doc[end:])
	return out.Bytes(), nil
}
