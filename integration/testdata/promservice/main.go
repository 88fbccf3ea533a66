// Command promservice is the agent-enabled service of integration/prometheus_test.go: it
// serves its goroutines by go statement to Prometheus both ways the agent offers,
// agent/promcollector's collector in a client_golang registry on /metrics and the agent's
// plain text handler on /metrics-plain, and net/http/pprof for the test's oracle.
//
//	promservice [-leak-every 300ms]
//
// It parks fixed pools at marked go statements (a line ending in "// PROMSERVICE name
// count"); with -leak-every one more goroutine leaks at the statement marked
// "PROMSERVICE leak" every period. It prints "ready pid=PID addr=HOST:PORT" and exits
// when its stdin closes.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gorigin-dev/gorigin/agent"
	"github.com/gorigin-dev/gorigin/agent/promcollector"
)

var never = make(chan struct{})

func main() {
	leakEvery := flag.Duration("leak-every", 0, "leak one goroutine every period (0: none)")
	flag.Parse()

	var parked sync.WaitGroup
	parked.Add(4 + 6)
	for range 4 {
		go pool(&parked) // PROMSERVICE pool 4
	}
	for range 6 {
		go worker(&parked) // PROMSERVICE worker 6
	}
	parked.Wait()
	if *leakEvery > 0 {
		go func() { // PROMSERVICE leaker 1
			for range time.Tick(*leakEvery) {
				go leaked() // PROMSERVICE leak
			}
		}()
	}

	m := agent.NewMetrics(agent.MetricsOptions{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(promcollector.New(m))
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	http.Handle("/metrics-plain", m)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "promservice:", err)
		os.Exit(1)
	}
	go http.Serve(ln, nil) // ends when the process does
	fmt.Printf("ready pid=%d addr=%s\n", os.Getpid(), ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

func pool(wg *sync.WaitGroup)   { wg.Done(); <-never }
func worker(wg *sync.WaitGroup) { wg.Done(); select {} }
func leaked()                   { <-never }
