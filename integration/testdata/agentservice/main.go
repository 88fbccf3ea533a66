// Command agentservice is the fixture of integration/agent_service_test.go: a small HTTP
// service on 127.0.0.1 that carries gorigin's agent, as a real service would, so that the
// tests can put loopback load on it, send it the agent's signal and compare what the
// agent writes with the process's own debug=2 dump.
//
//	agentservice -mode steady|leak -dir DIR [-every 250ms -window 3] [-godebug tracebacklabels=0]
//
// It parks fixed pools of goroutines at marked go statements (a line ending in
// "// AGENTSERVICE name count"), one pool with pprof labels (tenant=a); GET /work runs a
// request: in mode steady it hands the work to a goroutine and waits for it, in mode
// leak that goroutine never ends. It serves net/http/pprof under /debug/pprof/ and the
// agent's handler under /debug/gorigin, prints "ready pid=PID addr=HOST:PORT" and, on
// stderr, "growth FILE:LINE" for each group the agent's sampler reports as growing. It
// exits when its stdin closes. -godebug sets GODEBUG once it runs (the runtime rereads
// it), e.g. tracebacklabels=0 so that runtime.Stack shows no labels whatever its
// environment says. Go 1.26+ (the agent's own requirement).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/gorigin-dev/gorigin/agent"
)

var never = make(chan struct{})

func main() {
	mode := flag.String("mode", "steady", "steady: every request's goroutine ends; leak: each one stays")
	dir := flag.String("dir", "", "directory for the agent's snapshot files (SIGUSR1)")
	every := flag.Duration("every", 0, "the agent's sampling period (0: no sampling)")
	window := flag.Int("window", 3, "samples a group must grow across to be reported")
	godebug := flag.String("godebug", "", "GODEBUG to set at start (the runtime rereads it)")
	flag.Parse()
	if *godebug != "" {
		os.Setenv("GODEBUG", *godebug)
	}
	if *mode != "steady" && *mode != "leak" {
		fmt.Fprintln(os.Stderr, "agentservice: -mode is steady or leak")
		os.Exit(2)
	}

	var out sync.Mutex // one growth report's lines together
	a, err := agent.Start(agent.Options{
		Dir: *dir, Every: *every, Window: *window,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
		OnGrowth: func(gs []agent.Growth) {
			out.Lock()
			defer out.Unlock()
			for _, g := range gs {
				if g.Origin != nil {
					fmt.Fprintf(os.Stderr, "growth %s:%d\n", g.Origin.File, g.Origin.Line)
				}
			}
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentservice:", err)
		os.Exit(1)
	}
	defer a.Stop()

	for range 5 {
		go pooled() // AGENTSERVICE pool 5
	}
	pprof.Do(context.Background(), pprof.Labels("tenant", "a"), func(context.Context) {
		for range 3 {
			go tenant() // AGENTSERVICE tenant 3
		}
	})

	leak := *mode == "leak"
	http.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) {
		done := make(chan struct{})
		if leak {
			go leaked(done) // AGENTSERVICE leak
		} else {
			go work(done) // AGENTSERVICE work
		}
		<-done
		fmt.Fprintln(w, "ok")
	})
	http.Handle("/debug/gorigin", a.Handler())
	http.Handle("/debug/gorigin/ring", a.Handler())

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentservice:", err)
		os.Exit(1)
	}
	go http.Serve(ln, nil) // ends when the process does
	fmt.Printf("ready pid=%d addr=%s\n", os.Getpid(), ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

func pooled() { <-never }
func tenant() { <-never }

// work is a request's goroutine: a little work, then done.
func work(done chan struct{}) {
	time.Sleep(time.Millisecond)
	close(done)
}

// leaked answers the request but never ends.
func leaked(done chan struct{}) {
	close(done)
	<-never
}
