package integration

// gorigin's series in a real Prometheus: the server (built from its module by .ci/run)
// scrapes `gorigin exporter` reading the fixture and an agent-enabled service, and the
// service's own /metrics (agent/promcollector) and /metrics-plain (agent.Metrics). Through
// Prometheus's HTTP query API, sum by (origin) (gorigin_goroutines) must equal the
// processes' own debug=2 dumps per go statement, a leaking go statement must fire the
// shipped alert rule (a copy with its minute and 15 minutes shortened to seconds), and
// every query of the shipped dashboards must return data.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/integration/oracle"
	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// promClient queries a Prometheus server's HTTP API.
type promClient struct{ base string }

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s promSample) value(t testing.TB) float64 {
	v, err := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
	if err != nil {
		t.Fatalf("sample value %v: %v", s.Value, err)
	}
	return v
}

// get fetches an API path and decodes its data field into out.
func (p promClient) get(path string, out any) error {
	resp, err := httpClient.Get(p.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	var doc struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("GET %s: %s: %v", path, resp.Status, err)
	}
	if doc.Status != "success" {
		return fmt.Errorf("GET %s: %s", path, doc.Error)
	}
	return json.Unmarshal(doc.Data, out)
}

// query runs an instant PromQL query.
func (p promClient) query(q string) ([]promSample, error) {
	var data struct {
		ResultType string       `json:"resultType"`
		Result     []promSample `json:"result"`
	}
	if err := p.get("/api/v1/query?query="+url.QueryEscape(q), &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: result type %s, want vector", q, data.ResultType)
	}
	return data.Result, nil
}

// byOrigin runs q, which must return one sample per origin label, as a map.
func (p promClient) byOrigin(t testing.TB, q string) (map[string]int, error) {
	res, err := p.query(q)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, s := range res {
		out[s.Metric["origin"]] = int(s.value(t))
	}
	return out, nil
}

// oracleByOrigin counts a debug=2 dump's goroutines by the go statement that created
// them, as "path:line"; the main goroutine (no creator) is "none", as the exporter says.
func oracleByOrigin(gs []oracle.Goroutine) map[string]int {
	out := map[string]int{}
	for _, g := range gs {
		o := "none"
		if g.CreatedBy != nil {
			o = fmt.Sprintf("%s:%d", g.CreatedBy.File, g.CreatedBy.Line)
		}
		out[o]++
	}
	return out
}

// steady drops the origins whose counts move on their own: net/http's connection
// goroutines (the oracle's own request, Prometheus's scrapes), the goroutines
// client_golang's registry starts while it gathers (there when the collector's snapshot
// is taken inside a scrape, not when the plain handler's is), and skip (a leak).
func steady(m map[string]int, skip string) map[string]int {
	out := map[string]int{}
	for o, n := range m {
		if !strings.Contains(o, "/net/http/") && !strings.Contains(o, "/prometheus/client_golang") && o != skip {
			out[o] = n
		}
	}
	return out
}

// startPrometheus starts the Prometheus server with config (in a temporary directory with
// the rule files named in rules) and waits until it is ready.
func startPrometheus(t *testing.T, config string, rules map[string]string) promClient {
	t.Helper()
	bin := testenv.PrometheusTool(t, "prometheus")
	dir := t.TempDir()
	for name, text := range rules {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port for it
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() // by pid
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs)
		}
	})
	p := promClient{base: "http://" + addr}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := httpClient.Get(p.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus at %s not ready within 2 minutes: %v\n%s", addr, err, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var exporterAddrRE = regexp.MustCompile(`gorigin exporter: serving http://(127\.0\.0\.1:\d+)/metrics`)

// startExporter runs `gorigin exporter` with args and returns the address it serves.
func startExporter(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(needGorigin(t), append([]string{"exporter", "--listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		cmd.Process.Kill() // by pid
		cmd.Wait()
		if t.Failed() {
			t.Logf("gorigin exporter's log:\n%s", logs)
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
			if m := exporterAddrRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case addr := <-found:
		return addr
	case <-time.After(time.Minute):
		t.Fatalf("gorigin exporter said no address within a minute:\n%s", logs)
		return ""
	}
}

// waitFor polls check until it returns nil or two minutes pass (the machine may be
// loaded: Prometheus scrapes every second, the exporter snapshots every half second).
func waitFor(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still after 2 minutes: %v", what, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// shortRules is the shipped rule file with its windows shortened for a test that cannot
// wait 15 minutes: growth over 2 s instead of a minute, for 6 s instead of 15 minutes.
// The expressions are otherwise the shipped ones (promtool's unit tests prove those).
func shortRules(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join("..", "exporter", "rules", "gorigin.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, r := range [][2]string{{"offset 1m", "offset 2s"}, {"for: 15m", "for: 6s"}} {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("exporter/rules/gorigin.rules.yml has no %q to shorten: update this test with the rule", r[0])
		}
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

func TestPrometheusScrapesExporterAndAgent(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	testenv.PrometheusTool(t, "prometheus") // skip before building anything
	v := hostVariant(t)
	svcDir, err := filepath.Abs(filepath.Join("testdata", "promservice"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Prebuild(v.build(fixtureDir(t)), v.build(svcDir))
	fx := startFixture(t, fixtureBinary(t, v), "-n", "5")
	svc := startFixture(t, programBinary(t, svcDir, v), "-leak-every", "300ms")
	leakLine := 0
	src, err := os.ReadFile(filepath.Join(svcDir, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(src), "\n") {
		if strings.HasSuffix(l, "// PROMSERVICE leak") {
			leakLine = i + 1
		}
	}
	leakOrigin := fmt.Sprintf("%s:%d", filepath.Join(svcDir, "main.go"), leakLine)

	exp := startExporter(t, "--interval", "500ms", strconv.Itoa(fx.Pid), strconv.Itoa(svc.Pid))
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [gorigin.rules.yml]
scrape_configs:
  - job_name: exporter
    static_configs: [{targets: [%q]}]
  - job_name: agent
    static_configs: [{targets: [%q]}]
  - job_name: agent-plain
    metrics_path: /metrics-plain
    static_configs: [{targets: [%q]}]
`, exp, svc.Addr, svc.Addr)
	prom := startPrometheus(t, config, map[string]string{"gorigin.rules.yml": shortRules(t)})

	// Each way of reading each process, against that process's own dump.
	cases := []struct {
		name, selector string
		f              *fixture
	}{
		{"exporter reading the fixture", fmt.Sprintf(`job="exporter",pid="%d"`, fx.Pid), fx},
		{"exporter reading the service", fmt.Sprintf(`job="exporter",pid="%d"`, svc.Pid), svc},
		{"the service's collector", `job="agent"`, svc},
		{"the service's plain handler", `job="agent-plain"`, svc},
	}
	for _, c := range cases {
		want := steady(oracleByOrigin(c.f.debug2(t)), leakOrigin)
		if len(want) < 3 {
			t.Fatalf("%s: the dump has only %v", c.name, want)
		}
		q := fmt.Sprintf("sum by (origin) (gorigin_goroutines{%s})", c.selector)
		waitFor(t, c.name+": "+q+" equals the debug=2 dump per go statement", func() error {
			got, err := prom.byOrigin(t, q)
			if err != nil {
				return err
			}
			got = steady(got, leakOrigin)
			if !maps.Equal(got, want) {
				return fmt.Errorf("got %v\nwant %v", got, want)
			}
			return nil
		})
		t.Logf("%s: %d go statements agree with debug=2", c.name, len(want))
	}

	// The leak fires the alert, for the leaking go statement only (the fixture's and the
	// service's pools are steady), through each of the three jobs.
	waitFor(t, "GoroutinesGrowingByOrigin fires for "+leakOrigin, func() error {
		var data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		}
		if err := prom.get("/api/v1/alerts", &data); err != nil {
			return err
		}
		firing := 0
		for _, a := range data.Alerts {
			if a.Labels["alertname"] != "GoroutinesGrowingByOrigin" {
				continue
			}
			if a.State != "firing" {
				continue // a new connection's goroutine can make another origin pending a moment
			}
			if o := a.Labels["origin"]; o != leakOrigin {
				t.Fatalf("alert firing for %s (%v): only the leak at %s grows", o, a.Labels, leakOrigin)
			}
			firing++
		}
		if firing < 3 { // read by the exporter, the collector and the plain handler
			return fmt.Errorf("%d firing alerts for the leak in %+v, want 3 (one per job)", firing, data.Alerts)
		}
		return nil
	})

	// Every dashboard query returns data, with Grafana's variables set to "all".
	qs := dashboardQueries(t)
	vars := strings.NewReplacer(`$job`, `.*`, `$instance`, `.*`, `$__rate_interval`, `10s`)
	for _, name := range slices.Sorted(maps.Keys(qs)) {
		q := vars.Replace(qs[name])
		waitFor(t, "dashboard "+name+": "+q+" returns data", func() error {
			res, err := prom.query(q)
			if err != nil {
				return err
			}
			if len(res) == 0 {
				return fmt.Errorf("no data")
			}
			return nil
		})
	}
}

// dashboardQueries are the queries of every panel of the shipped Grafana dashboards, by
// "file: panel".
func dashboardQueries(t *testing.T) map[string]string {
	files, err := filepath.Glob(filepath.Join("..", "exporter", "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in exporter/dashboards: %v", err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				Title   string                  `json:"title"`
				Targets []struct{ Expr string } `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				out[filepath.Base(f)+": "+p.Title] = tg.Expr
			}
		}
	}
	return out
}
