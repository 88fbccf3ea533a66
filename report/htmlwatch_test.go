package report

import (
	"encoding/json"
	"fmt"
	htmlstd "html"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// hostileFile is a go statement's file that would be markup if it were not escaped.
const hostileFile = `/x/<img src=x onerror=alert(1)>"'&amp;<script>alert(2)</script>.go`

// watchDumps are the debug=2 dumps a watch samples, one per sample: a group that grows
// every time (leak), one that grows overall but not every time (bumpy), a steady one,
// a shrinking one, and one whose go statement's file is markup.
func watchDumps() []string {
	counts := map[string][]int{
		"leak": {2, 4, 6, 8}, "bumpy": {1, 3, 2, 4}, "steady": {3, 3, 3, 3}, "shrink": {5, 4, 3, 2}, "hostile": {1, 2, 3, 4},
	}
	line := map[string]int{"leak": 10, "bumpy": 11, "steady": 12, "shrink": 13, "hostile": 14}
	dumps := make([]string, 4)
	for i := range dumps {
		var b strings.Builder
		b.WriteString("goroutine 1 [select]:\nmain.main()\n\t/x/main.go:30 +0x1\n\n")
		id := 100
		for _, name := range []string{"leak", "bumpy", "steady", "shrink", "hostile"} {
			file := "/x/main.go"
			if name == "hostile" {
				file = hostileFile
			}
			for range counts[name][i] {
				id++
				fmt.Fprintf(&b, "goroutine %d [chan receive]:\nmain.%s()\n\t/x/%s.go:5 +0x1\ncreated by main.main in goroutine 1\n\t%s:%d +0x2\n\n", id, name, name, file, line[name])
			}
		}
		dumps[i] = b.String()
	}
	return dumps
}

var (
	wgroupRE = regexp.MustCompile(`(?s)<section class="wgroup[^"]*" data-key="([^"]*)" data-counts="([^"]*)" data-grew="([a-z]+)">.*?` +
		`data-max="(\d+)" data-y0="([\d.]+)" data-ymax="([\d.]+)".*?points="([^"]*)".*?</section>`)
	totalsRE  = regexp.MustCompile(`<section id="totals" data-counts="([^"]*)">`)
	samplesRE = regexp.MustCompile(`data-samples="(\d+)"`)
)

// drawnCounts reads the counts back from a polyline's y coordinates.
func drawnCounts(t *testing.T, points string, maxCount int, y0, ymax float64) []int {
	t.Helper()
	var out []int
	for _, p := range strings.Fields(points) {
		_, ys, _ := strings.Cut(p, ",")
		y, err := strconv.ParseFloat(ys, 64)
		if err != nil {
			t.Fatalf("point %q: %v", p, err)
		}
		out = append(out, int(math.Round((y0-y)/(y0-ymax)*float64(max(maxCount, 1)))))
	}
	return out
}

// TestWatchHTMLInChromium runs gorigin watch twice over the same four dumps served by a
// test server, once as JSON and once as an HTML page (-o), and loads the page in
// headless Chromium: every group of the JSON is a chart in the DOM Chromium built, with
// the same key, counts, verdict and the same counts drawn; the groups that grew come
// first and open, the others folded in <details>; nothing of the hostile file name became
// markup; the page fetches nothing. While the watch runs, each sample finds the page
// rewritten with the samples before it.
func TestWatchHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	gorigin, err := testenv.Gorigin()
	if err != nil {
		t.Fatalf("build gorigin: %v", err)
	}
	dumps := watchDumps()
	page := filepath.Join(t.TempDir(), "watch.html")
	var mu sync.Mutex
	served := map[string]int{}
	var progress []string // what the page said when each sample was taken
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		run := strings.Split(r.URL.Path, "/")[1] // /json/... or /html/...
		i := served[run]
		served[run]++
		if run == "html" {
			b, _ := os.ReadFile(page)
			m := samplesRE.FindSubmatch(b)
			switch {
			case i == 0 && len(b) != 0:
				progress = append(progress, "sample 1: the page exists already")
			case i > 0 && (m == nil || string(m[1]) != strconv.Itoa(i)):
				progress = append(progress, fmt.Sprintf("sample %d: the page has data-samples %q, want %d", i+1, m, i))
			}
		}
		if i >= len(dumps) {
			http.Error(w, "no more samples", http.StatusGone)
			return
		}
		fmt.Fprint(w, dumps[i])
	}))
	defer srv.Close()

	watch := func(run string, args ...string) []byte {
		args = append([]string{"watch", srv.URL + "/" + run + "/debug/pprof/goroutine", "--every", "50ms", "--samples", "4"}, args...)
		out, err := exec.Command(gorigin, args...).Output()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("gorigin %s: %v (want exit status 3: a group grew)\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	var res snapshot.Watch
	if err := json.Unmarshal(watch("json", "--format", "json"), &res); err != nil {
		t.Fatal(err)
	}
	watch("html", "--format", "html", "-o", page)
	for _, p := range progress {
		t.Error(p)
	}
	if len(res.Groups) != 6 || len(res.Growing) != 2 {
		t.Fatalf("the JSON has %d groups and %d growing; the dumps make 6 and 2: %+v", len(res.Groups), len(res.Growing), res)
	}

	raw, _ := os.ReadFile(page)
	for _, bad := range []string{"<script", "<link", "<img", `src="`, "url(", "@import"} {
		if strings.Contains(string(raw), bad) {
			t.Errorf("the page holds %q: it must fetch nothing and run nothing of the target's", bad)
		}
	}
	dom := string(runChromium(t, bin, "file://"+page, "--dump-dom"))
	if strings.Contains(dom, "<img") || strings.Contains(dom, "<script") {
		t.Errorf("the hostile file name became markup in the DOM")
	}
	if !strings.Contains(dom, htmlstd.EscapeString(hostileFile)[:20]) && !strings.Contains(dom, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("the hostile file name is not shown as text")
	}
	m := totalsRE.FindStringSubmatch(dom)
	if m == nil || htmlstd.UnescapeString(m[1]) != jsonInts(res.Totals) {
		t.Errorf("totals in the DOM %q, JSON %v", m, res.Totals)
	}

	// The order the page must show: the groups that grew (net or every time) in the
	// JSON's order, then the others, folded.
	var want []snapshot.WatchGroup
	for _, rising := range []bool{true, false} {
		for _, g := range res.Groups {
			if (g.Last() > g.Counts[0] || g.GrewEveryInterval) == rising {
				want = append(want, g)
			}
		}
	}
	got := wgroupRE.FindAllStringSubmatch(dom, -1)
	if len(got) != len(want) {
		t.Fatalf("%d group charts in the DOM, %d groups in the JSON", len(got), len(want))
	}
	steady := strings.Index(dom, `<details id="steady">`)
	for i, g := range want {
		m := got[i]
		key, counts, grew := htmlstd.UnescapeString(m[1]), htmlstd.UnescapeString(m[2]), m[3] == "true"
		if key != g.Key || counts != jsonInts(g.Counts) || grew != g.GrewEveryInterval {
			t.Errorf("chart %d: key %q counts %s grew %v; JSON: %q %v %v", i, key, counts, grew, g.Key, g.Counts, g.GrewEveryInterval)
		}
		maxCount, _ := strconv.Atoi(m[4])
		y0, _ := strconv.ParseFloat(m[5], 64)
		ymax, _ := strconv.ParseFloat(m[6], 64)
		if drawn := drawnCounts(t, m[7], maxCount, y0, ymax); !slices.Equal(drawn, g.Counts) {
			t.Errorf("chart %d (%s): the line draws %v, the JSON says %v", i, g.Key, drawn, g.Counts)
		}
		folded := steady >= 0 && strings.Index(dom, m[0]) > steady
		if rising := g.Last() > g.Counts[0] || g.GrewEveryInterval; folded == rising {
			t.Errorf("chart %d (%s, counts %v): folded %v", i, g.Key, g.Counts, folded)
		}
	}
	if !strings.Contains(dom, "verdict: 2 group(s) grew in every interval") {
		t.Errorf("the page has no verdict of 2 growing groups")
	}
}

func jsonInts(ns []int) string {
	b, _ := json.Marshal(ns)
	return string(b)
}

// TestWatchHTMLPage checks the page without a browser: each group's section carries its
// key and counts exactly (the hostile key escaped, not markup), the line draws the counts,
// and a page of a watch in progress says so and reloads itself while the last does not.
func TestWatchHTMLPage(t *testing.T) {
	hostile := `main.main ` + hostileFile + `:3 → main.f`
	res := &snapshot.Watch{Source: "http://h/<x>", By: "origin", Totals: []int{3, 5, 9},
		Groups: []snapshot.WatchGroup{{Key: hostile, Counts: []int{1, 3, 7}}, {Key: "b", Counts: []int{2, 2, 2}}}}
	res.Growing = res.MarkGrowing()
	for planned, refresh := range map[int]bool{3: false, 6: true} {
		var b strings.Builder
		if err := WatchHTML(&b, res, 0, planned); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if got := strings.Contains(out, `http-equiv="refresh"`); got != refresh {
			t.Errorf("3 of %d samples: reloads itself %v, want %v", planned, got, refresh)
		}
		if strings.Contains(out, "<img") || strings.Contains(out, "<script") || strings.Contains(out, "<x>") {
			t.Errorf("a target's string became markup:\n%s", out)
		}
		got := wgroupRE.FindAllStringSubmatch(out, -1)
		if len(got) != 2 {
			t.Fatalf("%d group sections, want 2", len(got))
		}
		for i, m := range got {
			g := res.Groups[i]
			maxCount, _ := strconv.Atoi(m[4])
			y0, _ := strconv.ParseFloat(m[5], 64)
			ymax, _ := strconv.ParseFloat(m[6], 64)
			if htmlstd.UnescapeString(m[1]) != g.Key || htmlstd.UnescapeString(m[2]) != jsonInts(g.Counts) ||
				!slices.Equal(drawnCounts(t, m[7], maxCount, y0, ymax), g.Counts) {
				t.Errorf("section %d: key %q counts %s points %s; want %q %v", i, m[1], m[2], m[7], g.Key, g.Counts)
			}
		}
		if i := strings.Index(out, `<details id="steady">`); i < 0 || strings.Index(out, `data-key="b"`) < i {
			t.Errorf("the steady group is not folded")
		}
	}
}
