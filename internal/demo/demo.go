// Package demo is a small leaky program for `gorigin demo`: a pretend API server whose
// request handler leaks a goroutine per request, next to the healthy goroutines a service
// has (a worker pool, a ticker, labelled jobs). It exists so a new user can see gorigin's
// answer without a misbehaving process of their own.
package demo

import (
	"context"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

// Requests is how many requests the demo serves before it reports ready; each leaks one goroutine.
const Requests = 1500

type server struct {
	jobs chan func()
	mu   sync.Mutex
}

// Run starts the demo's goroutines, calls ready once they are all parked, and blocks until
// stop is closed.
func Run(ready func(), stop <-chan struct{}) {
	s := &server{jobs: make(chan func())}
	for i := 0; i < 8; i++ {
		go s.worker(i)
	}
	go tick(stop)
	for i := 0; i < Requests; i++ {
		s.handle(i)
	}
	// A few tenants' jobs, labelled the way pprof.Do labels them.
	for _, tenant := range []string{"acme", "globex", "initech"} {
		ctx := pprof.WithLabels(context.Background(), pprof.Labels("tenant", tenant))
		startGoRoutine(func() {
			pprof.Do(ctx, pprof.Labels("job", "export"), func(context.Context) { <-stop })
		})
	}
	// A lock held forever: everyone who wants it waits.
	s.mu.Lock()
	for i := 0; i < 5; i++ {
		startGoRoutine(s.audit)
	}
	time.Sleep(200 * time.Millisecond)
	// The runtime notes when a goroutine blocked (g.waitsince) only when a collection sees
	// it blocked, and then writes the time the previous collection ended: it takes two. A
	// real service collects all the time.
	runtime.GC()
	runtime.GC()
	ready()
	<-stop
}

// handle serves one request. Its timeout path leaks: nobody ever reads the result.
func (s *server) handle(id int) {
	result := make(chan int)
	go func() {
		result <- id * 2 // blocks forever: the caller gave up
	}()
	select {
	case r := <-result:
		_ = r
	default: // "timed out"
	}
}

func (s *server) worker(int) {
	for job := range s.jobs {
		job()
	}
}

func (s *server) audit() {
	s.mu.Lock()
	defer s.mu.Unlock()
}

func tick(stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-stop:
			return
		}
	}
}

// startGoRoutine is the kind of spawn helper many projects have: every goroutine it starts
// has the same go statement, so gorigin groups by the go statement and the start function.
func startGoRoutine(f func()) {
	go f()
}
