package agent

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gorigin-dev/gorigin/exporter/series"
	"github.com/gorigin-dev/gorigin/integration/oracle"
)

// parseText parses the text exposition format with Prometheus's own parser.
func parseText(t *testing.T, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("Prometheus's parser rejects the agent's text: %v\n%s", err, text)
	}
	return fams
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestMetricsHandlerMatchesDebug2 parks goroutines at a marked go statement and checks
// the plain handler's gorigin_goroutines for it against the runtime's own debug=2 dump,
// read through Prometheus's text parser.
func TestMetricsHandlerMatchesDebug2(t *testing.T) {
	ch := make(chan struct{})
	defer close(ch)
	for range 7 {
		go blockOn(ch) // METRICS-TEST
	}
	line := markedLine(t, "metrics_test.go", "// METRICS-TEST")
	origin := func(file string, l int) bool { return filepath.Base(file) == "metrics_test.go" && l == line }

	// The oracle: the runtime's dump, once all 7 are parked.
	want, err := oracle.CountSelf(7, 1000, func(g *oracle.Goroutine) bool {
		return g.CreatedBy != nil && origin(g.CreatedBy.File, g.CreatedBy.Line) && g.Status == "chan receive"
	})
	if err != nil {
		t.Fatal(err)
	}
	if want != 7 {
		t.Fatalf("the runtime's dump shows %d parked goroutines at line %d, want 7", want, line)
	}

	m := NewMetrics(MetricsOptions{})
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q, want the text format's", ct)
	}
	fams := parseText(t, rec.Body.Bytes())
	got, sum := 0, 0.0
	for _, mt := range fams[series.Goroutines.Name].GetMetric() {
		sum += mt.GetGauge().GetValue()
		o := label(mt, "origin")
		i := strings.LastIndexByte(o, ':')
		var l int
		fmt.Sscan(o[i+1:], &l)
		if i > 0 && origin(o[:i], l) {
			got += int(mt.GetGauge().GetValue())
			if s := label(mt, "state"); s != "chan receive" {
				t.Errorf("state %q, want chan receive", s)
			}
			if s := label(mt, "start"); s != "github.com/gorigin-dev/gorigin/agent.blockOn" {
				t.Errorf("start %q, want agent.blockOn", s)
			}
		}
	}
	if got != want {
		t.Errorf("gorigin_goroutines at metrics_test.go:%d = %d, the runtime's dump says %d\n%s", line, got, want, rec.Body.Bytes())
	}
	total := fams[series.TargetGoroutines.Name].GetMetric()
	if len(total) != 1 || total[0].GetGauge().GetValue() != sum {
		t.Errorf("gorigin_target_goroutines %v, want one sample equal to the groups' sum %v", total, sum)
	}
	for _, name := range []string{series.SnapshotDuration.Name, series.SnapshotFreeze.Name, series.SnapshotTimestamp.Name, series.SnapshotErrors.Name} {
		if len(fams[name].GetMetric()) != 1 {
			t.Errorf("%s: want one sample, got %v", name, fams[name])
		}
	}
	if fams[series.SnapshotErrors.Name].GetType() != dto.MetricType_COUNTER {
		t.Errorf("%s is %v, want a counter", series.SnapshotErrors.Name, fams[series.SnapshotErrors.Name].GetType())
	}
}

// TestWriteTextEscapesHostileLabels writes label values a target could choose (quotes,
// backslashes, line feeds, braces, invalid UTF-8, a very long path) and reads them back
// with Prometheus's parser: each must come back as series.Label made it, and nothing
// may break the exposition's lines.
func TestWriteTextEscapesHostileLabels(t *testing.T) {
	hostile := []string{
		`a"b`, `back\slash`, "line\nfeed", `} 1` + "\n" + `gorigin_goroutines{pid="666"} 9`, "bad\xffutf8", strings.Repeat("/x", 1000) + ".go:1",
	}
	st := series.State{Pid: 42, Exe: series.Label("/bin/\"evil\"\n"), Last: &series.Target{}}
	for i, h := range hostile {
		st.Last.Groups = append(st.Last.Groups, series.Group{Origin: series.Label(h), Start: series.Label(h), State: "select", Count: i + 1})
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	WriteText(w, &st)
	w.Flush()
	fams := parseText(t, buf.Bytes())
	ms := fams[series.Goroutines.Name].GetMetric()
	if len(ms) != len(hostile) {
		t.Fatalf("%d samples of gorigin_goroutines, want %d:\n%s", len(ms), len(hostile), buf.Bytes())
	}
	for i, m := range ms {
		want := series.Label(hostile[i])
		if o := label(m, "origin"); o != want || label(m, "start") != want || int(m.GetGauge().GetValue()) != i+1 {
			t.Errorf("sample %d: origin %q value %v, want %q and %d", i, o, m.GetGauge().GetValue(), want, i+1)
		}
		if label(m, "pid") != "42" || label(m, "exe") != st.Exe {
			t.Errorf("sample %d: pid %q exe %q", i, label(m, "pid"), label(m, "exe"))
		}
	}
}
