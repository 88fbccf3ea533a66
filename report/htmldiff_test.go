package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// diffFixture compares apiServer with an earlier state of it: 500 of the 1,993 blocked
// receivers, none of the 12 pollers, and 5 goroutines of a job that has since finished.
func diffFixture() snapshot.Diff {
	after := apiServer()
	before := apiServer()
	var kept []snapshot.Goroutine
	recv := 0
	for _, g := range before.Goroutines {
		switch {
		case g.Start != nil && g.Start.Func == "main.poller":
			continue
		case g.Start != nil && g.Start.Func == "main.blockRecv":
			if recv++; recv > 500 {
				continue
			}
		}
		kept = append(kept, g)
	}
	for i := range 5 {
		kept = append(kept, snapshot.Goroutine{ID: int64(9000 + i), Status: "waiting", WaitReason: "chan send",
			Origin: loc("main.runJob", "/home/dev/api/cmd/api/job.go", 40), Start: loc("main.job", "/home/dev/api/cmd/api/job.go", 50)})
	}
	before.Goroutines = kept
	return snapshot.Compare(before, after, before.Goroutines, after.Goroutines, snapshot.Key{}, snapshot.DiffOptions{})
}

// wantDiff is the growth diffFixture was built with, by start function: the oracle the
// page's numbers are checked against (not snapshot.Compare's).
var wantDiff = map[string][2]int{ // start function → before, after
	"main.blockRecv": {500, 1993},
	"main.poller":    {0, 12},
	"main.job":       {5, 0},
	"main.worker":    {30, 30},
}

var diffRowRE = regexp.MustCompile(`(?s)<tbody class="group-body" id="(g\d+)">(.*?)</tbody>`)
var dataSortRE = regexp.MustCompile(`data-sort="(-?[\d.]+)"`)

// TestDiffHTMLInChromium checks the diff page holds one row per group with its before,
// after and delta (against the numbers diffFixture was built with), largest growth
// first; then loads it in headless Chromium with #sort=2, which clicks the AFTER header,
// and reads back the DOM: the rows in descending AFTER order. With GORIGIN_ARTIFACTS set,
// a screenshot is kept there.
func TestDiffHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	d := diffFixture()
	var buf bytes.Buffer
	if err := DiffHTML(&buf, &d, [2]string{"before.json", "after.json"}, 0); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "diff.html")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	type row struct {
		id                   string
		delta, before, after int
	}
	rows := func(dom string) []row {
		var out []row
		for _, m := range diffRowRE.FindAllStringSubmatch(dom, -1) {
			nums := dataSortRE.FindAllStringSubmatch(m[2], -1)
			if len(nums) < 3 {
				t.Fatalf("row %s has %d sortable numbers:\n%s", m[1], len(nums), m[2])
			}
			var r row
			r.id = m[1]
			fmt.Sscan(nums[0][1], &r.delta)
			fmt.Sscan(nums[1][1], &r.before)
			fmt.Sscan(nums[2][1], &r.after)
			out = append(out, r)
		}
		return out
	}

	// As served: growth order, largest first (the page's own HTML).
	got := rows(buf.String())
	if len(got) != len(d.Groups) {
		t.Fatalf("the page has %d rows, want %d groups", len(got), len(d.Groups))
	}
	seen := map[string]bool{}
	for i, r := range got {
		g := d.Groups[i]
		if r.id != fmt.Sprintf("g%d", i) {
			t.Errorf("row %d is %s: the page is not in growth order", i, r.id)
		}
		if i > 0 && r.delta > got[i-1].delta {
			t.Errorf("row %d grew %+d, more than the row above (%+d)", i, r.delta, got[i-1].delta)
		}
		if want, ok := wantDiff[g.Start.Func]; ok {
			seen[g.Start.Func] = true
			if r.before != want[0] || r.after != want[1] || r.delta != want[1]-want[0] {
				t.Errorf("%s: before %d after %d delta %d, want %d %d %+d", g.Start.Func, r.before, r.after, r.delta, want[0], want[1], want[1]-want[0])
			}
		}
	}
	for fn := range wantDiff {
		if !seen[fn] {
			t.Errorf("no row for the group started at %s", fn)
		}
	}

	// In Chromium, with #sort=2, which clicks the AFTER header: every row in the DOM,
	// descending by AFTER, ties in growth order.
	dom := string(runChromium(t, bin, "file://"+path+"#sort=2", "--dump-dom"))
	want := slices.Clone(got)
	slices.SortStableFunc(want, func(a, b row) int { return b.after - a.after })
	if gotSorted := rows(dom); !slices.Equal(gotSorted, want) {
		t.Errorf("after a click on AFTER the rows are\n%v\nwant\n%v", gotSorted, want)
	}
	if !strings.Contains(dom, `data-type="num" aria-sort="descending">AFTER`) {
		t.Error("the AFTER header is not marked as the descending sort")
	}
	for _, want := range []string{"+1,493", "1,993", "before.json (pid 4242", "after.json (pid 4242", "547 → 2,047 (+1,500)"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page does not say %q", want)
		}
	}

	if os.Getenv("GORIGIN_ARTIFACTS") != "" { // a third Chromium run: only when someone will look
		shot := filepath.Join(artifactDir(t), "diff.png")
		runChromium(t, bin, "file://"+path, "--screenshot="+shot, "--hide-scrollbars")
		if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
			t.Errorf("chromium wrote no screenshot: %v", err)
		}
		t.Logf("screenshot: %s", shot)
	}
}

func TestDiffHTMLIsSelfContainedAndEscaped(t *testing.T) {
	d := diffFixture()
	d.Groups[0].Key = `<script>alert(1)</script>`
	var buf bytes.Buffer
	if err := DiffHTML(&buf, &d, [2]string{"<b>before", "after"}, 2); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, bad := range []string{"<script>alert", "<b>before"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q unescaped", bad)
		}
	}
	if m := regexp.MustCompile(`(?i)\s(src|href)\s*=`).FindString(page); m != "" {
		t.Errorf("the page links to something: %q", m)
	}
	if n := strings.Count(page, `<tbody class="group-body"`); n != 2 {
		t.Errorf("top 2: %d rows", n)
	}
	if !strings.Contains(page, "more groups: --top 0 shows all") {
		t.Error("top 2 does not say that groups were left out")
	}
}
