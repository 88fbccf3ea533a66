package report

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// chromium finds Debian's headless-capable Chromium, or skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium to load the HTML report in (apt-get install chromium; .ci/run installs it)")
	return ""
}

// runChromium loads url in a headless Chromium with a fresh profile and no network
// services, with extra flags (--dump-dom, --screenshot=...), and returns its stdout.
func runChromium(t *testing.T, bin, url string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir(),
		"--window-size=1280,1400"}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(extra, " "), err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// writeHTMLReport renders s as HTML into a file and returns the groups and the path.
func writeHTMLReport(t *testing.T, s *snapshot.Snapshot) ([]snapshot.Group, string) {
	t.Helper()
	grouped := snapshot.GroupSnapshot(s, snapshot.Key{})
	groups := grouped.Groups()
	var buf bytes.Buffer
	if err := Render(&buf, "html", grouped, Options{}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return groups, path
}

var tbodyRE = regexp.MustCompile(`(?s)<tbody class="group-body" id="(g\d+)">(.*?)</tbody>`)

// TestHTMLInChromium loads the report in headless Chromium with #open=g1, which makes
// the page click group 1's row, and reads back the DOM Chromium built: every group is a
// row, every group a node of the spawn tree, group 1 open with its goroutines' stacks,
// the others closed. A screenshot is kept as an artifact.
func TestHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	s := apiServer()
	groups, path := writeHTMLReport(t, s)
	dom := string(runChromium(t, bin, "file://"+path+"#open=g1", "--dump-dom"))

	bodies := tbodyRE.FindAllStringSubmatch(dom, -1)
	if len(bodies) != len(groups) {
		t.Fatalf("the DOM has %d group rows, want %d\n%.2000s", len(bodies), len(groups), dom)
	}
	for i, b := range bodies {
		id, body := b[1], b[2]
		if id != fmt.Sprintf("g%d", i) {
			t.Errorf("row %d is %s", i, id)
		}
		g := &groups[i]
		if !strings.Contains(body, `data-sort="`+fmt.Sprint(g.Count)+`"`) {
			t.Errorf("row %s does not hold group %s's count %d", id, g.Key, g.Count)
		}
		open := i == 1
		if got := strings.Contains(body, `class="group open"`) && strings.Contains(body, `aria-expanded="true"`); got != open {
			t.Errorf("row %s open = %v, want %v", id, got, open)
		}
		if got := strings.Contains(body, `<tr class="detail">`); got != open {
			t.Errorf("row %s details shown = %v, want %v", id, got, open)
		}
		if open {
			// apiServer's group 1 (30 workers) all share one stack and state.
			if !strings.Contains(body, fmt.Sprintf("%d goroutines [waiting: sync.Cond.Wait, 40s, parent 1] ids ", g.Count)) {
				t.Errorf("open row %s does not list its %d goroutines under one stack:\n%s", id, g.Count, body)
			}
			for _, m := range g.Members[:min(3, len(g.Members))] {
				gr := &s.Goroutines[m]
				for _, want := range []string{fmt.Sprintf(" %d ", gr.ID), gr.Frames[len(gr.Frames)-1].Func, "created by " + gr.Origin.Func} {
					if !strings.Contains(body, want) {
						t.Errorf("open row %s does not show %q", id, want)
					}
				}
			}
		}
		if !strings.Contains(dom, fmt.Sprintf(`data-group="%d"`, i)) {
			t.Errorf("the spawn tree has no node for group %d (%s)", i, g.Key)
		}
	}
	if !strings.Contains(dom, `<svg xmlns="http://www.w3.org/2000/svg" id="spawn-tree"`) {
		t.Error("no spawn tree SVG in the DOM")
	}
	if n := strings.Count(dom, `<g class="edge"`); n != 4 {
		t.Errorf("the spawn tree has %d edges, want apiServer's 4", n)
	}
	for _, want := range []string{"pid 4242 ./api-server go1.26.8", "2,047", "frozen 1.1 ms"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the summary does not say %q", want)
		}
	}

	shot := filepath.Join(artifactDir(t), "report.png")
	runChromium(t, bin, "file://"+path+"#open=g1", "--screenshot="+shot, "--hide-scrollbars")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 600 {
		t.Errorf("screenshot is %v", b)
	}
	t.Logf("screenshot: %s", shot)
}

// artifactDir is where a test keeps files for people to look at: GORIGIN_ARTIFACTS when
// set (CI), else the test's temporary directory.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("GORIGIN_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestHTMLIsSelfContained checks the page fetches nothing: no src or href to anywhere,
// and a Content-Security-Policy that forbids fetches.
func TestHTMLIsSelfContained(t *testing.T) {
	_, path := writeHTMLReport(t, apiServer())
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?i)\s(src|href)\s*=`).Find(page); m != nil {
		t.Errorf("the page links to something: %q", m)
	}
	if !bytes.Contains(page, []byte(`default-src 'none'`)) {
		t.Error("the page has no Content-Security-Policy forbidding fetches")
	}
}

func TestHTMLEscapes(t *testing.T) {
	s := apiServer()
	s.Goroutines[0].Labels = map[string]string{"x": `<script>alert(1)</script>`}
	s.Goroutines[5].Origin = loc(`main.F[<u>]`, "/a/<i>.go", 1)
	var buf bytes.Buffer
	if err := HTML(&buf, snapshot.GroupSnapshot(s, snapshot.Key{}), Options{}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>alert", "<u>", "<i>"} {
		if strings.Contains(buf.String(), bad) {
			t.Errorf("the page holds %q unescaped", bad)
		}
	}
}
