package agent

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorigin-dev/gorigin/dump"
	"github.com/gorigin-dev/gorigin/exporter/series"
)

// Metrics is this process's goroutines by go statement as the series of gorigin's
// Prometheus exporter (package exporter/series: gorigin_goroutines{pid, exe, origin,
// start, state} and the gorigin_snapshot_* figures). It serves them itself in the
// Prometheus text format (ServeHTTP, for a service without the Prometheus client);
// agent/promcollector offers them as a collector to a service that has one.
//
// Each read takes a snapshot (a stop-the-world pause: see the package comment), at most
// one at a time, and none within MinInterval (or 4 times what the last one took, if
// longer) of the last: a read then gets the last one's series again. Prometheus scrapes
// every 15 s or more, so a scrape costs one pause.
type Metrics struct {
	opt MetricsOptions

	mu       sync.Mutex
	state    series.State
	lastCost time.Duration
	lastAt   time.Time
}

// MetricsOptions configure Metrics.
type MetricsOptions struct {
	// MaxOrigins bounds the series: the go statements with the most goroutines keep
	// theirs, the rest are summed under origin="other". Default series.DefaultMaxOrigins.
	MaxOrigins int
	// MinInterval is the shortest time between two snapshots; default DefaultMinInterval.
	MinInterval time.Duration
}

// NewMetrics makes a Metrics; it takes no snapshot until read.
func NewMetrics(o MetricsOptions) *Metrics {
	if o.MinInterval <= 0 {
		o.MinInterval = DefaultMinInterval
	}
	exe, _ := os.Executable()
	return &Metrics{opt: o, state: series.State{Pid: os.Getpid(), Exe: series.Label(exe)}}
}

// State is the process's series now: a new snapshot's, or the last one's when that is
// younger than MinInterval.
func (m *Metrics) State() series.State {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.lastAt.IsZero() && time.Since(m.lastAt) < max(m.opt.MinInterval, costFactor*m.lastCost) {
		return m.state
	}
	t0 := time.Now()
	text, stopped, truncated := Stacks()
	snap, err := dump.Parse(bytes.NewReader(text), dump.Options{TakenAt: t0.UTC()})
	m.lastCost, m.lastAt = time.Since(t0), time.Now()
	m.state.Duration = m.lastCost
	if err == nil && truncated {
		err = fmt.Errorf("the traceback exceeds %d bytes", maxStackBuf)
	}
	if err != nil {
		m.state.Errors++
		m.state.Last = nil
		return m.state
	}
	snap.Source.FreezeMicros = stopped.Microseconds()
	t := series.FromSnapshot(snap, m.opt.MaxOrigins)
	m.state.Last, m.state.TakenAt = &t, t0
	return m.state
}

// ServeHTTP writes the series in the Prometheus text exposition format (version 0.0.4).
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "gorigin agent: GET only", http.StatusMethodNotAllowed)
		return
	}
	s := m.State()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	WriteText(bw, &s)
	bw.Flush()
}

// WriteText writes s in the Prometheus text exposition format: each family's HELP and
// TYPE lines once, before its samples; label values escaped as the format says.
func WriteText(w *bufio.Writer, s *series.State) {
	last := ""
	s.Samples(func(m series.Metric, labels []string, v float64) {
		if m.Name != last {
			typ := "gauge"
			if m.Counter {
				typ = "counter"
			}
			fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", m.Name, helpEscaper.Replace(m.Help), m.Name, typ)
			last = m.Name
		}
		w.WriteString(m.Name)
		w.WriteByte('{')
		for i, name := range m.Labels() {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(name)
			w.WriteString(`="`)
			labelEscaper.WriteString(w, labels[i])
			w.WriteByte('"')
		}
		w.WriteString("} ")
		w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		w.WriteByte('\n')
	})
}

// The text format's escapes: in label values backslash, double quote and line feed; in
// HELP text backslash and line feed.
var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)
