package promcollector

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gorigin-dev/gorigin/agent"
	"github.com/gorigin-dev/gorigin/integration/oracle"
)

func park(ch chan struct{}) { <-ch }

// markedLine is the line of this file that ends with marker.
func markedLine(t *testing.T, marker string) int {
	src, err := os.ReadFile("promcollector_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(src), "\n") {
		if strings.HasSuffix(l, marker) {
			return i + 1
		}
	}
	t.Fatalf("no line ends with %q", marker)
	return 0
}

// TestCollectorMatchesDebug2 registers the collector as a service would and checks what a
// registry gathers for a marked go statement against the runtime's own debug=2 dump, and
// the families against Prometheus's lint.
func TestCollectorMatchesDebug2(t *testing.T) {
	ch := make(chan struct{})
	defer close(ch)
	for range 5 {
		go park(ch) // PROMCOLLECTOR-TEST
	}
	line := markedLine(t, "// PROMCOLLECTOR-TEST")
	at := func(file string, l int) bool { return filepath.Base(file) == "promcollector_test.go" && l == line }
	want, err := oracle.CountSelf(5, 1000, func(g *oracle.Goroutine) bool {
		return g.CreatedBy != nil && at(g.CreatedBy.File, g.CreatedBy.Line) && g.Status == "chan receive"
	})
	if err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewPedanticRegistry() // checks descriptors against what Collect sends
	reg.MustRegister(New(agent.NewMetrics(agent.MetricsOptions{})))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := -1
	for _, f := range fams {
		if f.GetName() != "gorigin_goroutines" {
			continue
		}
		got = 0
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "origin" && strings.HasSuffix(l.GetValue(), fmt.Sprintf("/promcollector_test.go:%d", line)) {
					got += int(m.GetGauge().GetValue())
				}
			}
		}
	}
	if got != want || want != 5 {
		t.Errorf("gorigin_goroutines at promcollector_test.go:%d = %d, the runtime's dump says %d (of 5)", line, got, want)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
