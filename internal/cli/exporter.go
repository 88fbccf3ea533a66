package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/exporter"
	"github.com/gorigin-dev/gorigin/exporter/series"
	"github.com/gorigin-dev/gorigin/internal/source"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// exporterListen is the exporter's default address: loopback only.
const exporterListen = "127.0.0.1:9977"

var cmdExporter = &command{
	name: "exporter", args: "(PID... | --all) [flags]",
	summary: "serve goroutines by go statement as Prometheus metrics, snapshotting each process every interval",
	examples: [][2]string{
		{"two processes, read without stopping them, every 15 s, on 127.0.0.1:9977/metrics", "sudo gorigin exporter 4242 4343"},
		{"every Go process on the host, for a Prometheus elsewhere (TLS and basic auth)", "sudo gorigin exporter --all --listen :9977 --web.config.file web.yml"},
	},
	flags: func(f *flags) {
		f.freeze = string(capture.FreezeNever)
		f.choiceVar(&f.freeze, "freeze", []string{string(capture.FreezeAlways), string(capture.FreezeNever)}, nil, "never: read each target without stopping it (racy reads checked twice); always: stop it for each snapshot")
		f.fs.DurationVar(&f.maxFreeze, "max-freeze", f.maxFreeze, "with --freeze always: release the target after this long frozen")
		f.fs.StringVar(&f.listen, "listen", exporterListen, "serve /metrics on this `address` (loopback by default; for a remote Prometheus, protect it with --web.config.file)")
		f.fs.BoolVar(&f.all, "all", false, "follow every Go process this user may read, and the ones that start later")
		f.fs.Duration("interval", 15*time.Second, "time between rounds of snapshots (one target at a time); a scrape only reads the latest round")
		f.fs.Int("max-origins", series.DefaultMaxOrigins, "cardinality bound: at most `N` go statements per process keep their own series (the largest; the rest are summed under origin=\"other\"), and at most "+strconv.Itoa(series.MaxStartsPerOrigin)+" start functions per go statement (the rest under start=\"other\"); label values are cut at "+strconv.Itoa(series.MaxLabelLen)+" bytes")
		f.fs.String("web.config.file", "", "exporter-toolkit web configuration `file`: TLS and basic auth (bcrypt hashed passwords), as node_exporter's")
		f.group(sourceFlags, "freeze", "max-freeze", "all", "interval")
		f.group(outputFlags, "listen", "max-origins", "web.config.file")
		f.files = append(f.files, "web.config.file")
	},
	run:      runExporter,
	operands: pids,
}

// runExporter is "gorigin exporter PID... | --all": snapshots every --interval, served
// as Prometheus metrics until SIGINT or SIGTERM.
func runExporter(f *flags, pos []string, std stdio3) error {
	interval := f.fs.Lookup("interval").Value.(flag.Getter).Get().(time.Duration)
	maxOrigins := f.fs.Lookup("max-origins").Value.(flag.Getter).Get().(int)
	webConfig := f.fs.Lookup("web.config.file").Value.String()
	var pidList []int
	for _, p := range pos {
		pid, err := strconv.Atoi(p)
		if err != nil || pid <= 0 {
			return usageError{msg: fmt.Sprintf("%q is not a process id: gorigin exporter PID... or --all", p)}
		}
		pidList = append(pidList, pid)
	}
	switch {
	case f.all == (len(pidList) > 0):
		return usageError{msg: "give the processes to export or --all (not both): gorigin exporter PID... | --all"}
	case interval <= 0:
		return usageError{msg: "--interval must be positive"}
	case maxOrigins < 1:
		return usageError{msg: "--max-origins must be at least 1"}
	}
	if err := web.Validate(webConfig); err != nil {
		return usageError{msg: fmt.Sprintf("--web.config.file %s: %v (its format is exporter-toolkit's: tls_server_config, basic_auth_users with bcrypt hashes)", webConfig, err), err: err}
	}

	o := sourceOptions()
	o.Freeze, o.MaxFreeze = snapshot.FreezeMode(f.freeze), f.maxFreeze
	log := slog.New(slog.NewTextHandler(std.err, nil))
	exp, err := exporter.New(exporter.Options{
		Pids: pidList, All: f.all, Interval: interval, MaxOrigins: maxOrigins, Logger: log,
		Snapshot: func(ctx context.Context, pid int) (*snapshot.Snapshot, error) { return source.Attach(ctx, pid, o) },
	})
	if err != nil {
		return usageError{msg: err.Error(), err: err}
	}

	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return usageError{msg: fmt.Sprintf("--listen %s: %v (use HOST:PORT, e.g. %s)", f.listen, err, exporterListen), err: err}
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() && webConfig == "" {
		log.Warn("gorigin exporter: listening beyond loopback without --web.config.file: anyone who reaches it sees your processes' go statements", "address", ln.Addr().String())
	}
	fmt.Fprintf(std.err, "gorigin exporter: serving http://%s/metrics\n", ln.Addr())

	reg := prometheus.NewRegistry()
	reg.MustRegister(exp)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "gorigin exporter: metrics at /metrics")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go exp.Run(ctx)
	served := make(chan error, 1)
	go func() { served <- web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: &webConfig}, log) }()
	select {
	case err := <-served:
		return fmt.Errorf("gorigin exporter: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
