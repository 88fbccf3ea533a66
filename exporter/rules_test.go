package exporter

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// TestRulesWithPromtool runs Prometheus's own checks on the shipped rules: promtool check
// rules (syntax, names) and promtool test rules on rules/rules_test.yml, whose series have
// known answers (a leak fires after 15 minutes of growth; a plateau, a steady pool and a
// growth broken by one dip do not, or only 15 minutes after the dip).
func TestRulesWithPromtool(t *testing.T) {
	promtool := testenv.PrometheusTool(t, "promtool")
	for _, args := range [][]string{{"check", "rules", "gorigin.rules.yml"}, {"test", "rules", "rules_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "rules"
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	Title  string `json:"title"`
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// dashboardQueries are the PromQL queries of every panel of the dashboards in dir, by
// "file: panel title"; the integration test runs them against a real Prometheus.
func dashboardQueries(dir string) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, err
		}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				out[filepath.Base(f)+": "+p.Title] = tg.Expr
			}
		}
	}
	return out, nil
}

// TestDashboardsParse checks that every dashboard is JSON with panels that each query
// something (the integration test runs the queries against Prometheus).
func TestDashboardsParse(t *testing.T) {
	qs, err := dashboardQueries("dashboards")
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 5 {
		t.Errorf("%d dashboard queries, want the 7 panels of dashboards/gorigin.json", len(qs))
	}
	for name, q := range qs {
		if !strings.Contains(q, "gorigin") {
			t.Errorf("%s: query %q reads none of gorigin's series", name, q)
		}
	}
}
