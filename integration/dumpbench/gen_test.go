package dumpbench

import (
	"bytes"
	"context"
	"flag"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var nGoroutines = flag.Int("goroutines", 100_000, "goroutines in the benchmark's debug=2 dump")

// The dump's go statements: the benchmark checks every parser finds them.
const (
	originWorkers  = "dumpbench.spawnWorkers" // 60 %, parked on a channel, with labels
	originSelects  = "dumpbench.spawnSelects" // 30 %, in a select, created by a spawner goroutine
	originLockers  = "dumpbench.spawnLockers" // the rest, on a mutex
	labelKey       = "tenant"
	labelValueBase = "t"
)

var (
	dumpOnce sync.Once
	dumpData []byte
)

// theDump returns the debug=2 dump of this process with *nGoroutines extra goroutines
// parked, taken once per test binary.
func theDump(tb testing.TB) []byte {
	dumpOnce.Do(func() { dumpData = makeDump(*nGoroutines) })
	if len(dumpData) == 0 {
		tb.Fatal("no dump")
	}
	return dumpData
}

func makeDump(n int) []byte {
	release := make(chan struct{})
	var held sync.Mutex
	held.Lock()
	var parked, done sync.WaitGroup
	nw, ns := n*6/10, n*3/10
	nl := n - nw - ns
	parked.Add(n)
	done.Add(n)
	spawnWorkers(nw, release, &parked, &done)
	go spawnSelects(ns, release, &parked, &done)
	spawnLockers(nl, &held, &parked, &done)
	parked.Wait()
	runtime.Gosched()
	// The runtime rereads GODEBUG when it changes (as runtime's own traceback tests do):
	// tracebacklabels=1 (Go 1.26) prints each goroutine's labels in its header.
	old, had := os.LookupEnv("GODEBUG")
	os.Setenv("GODEBUG", strings.TrimPrefix(old+",tracebacklabels=1", ","))
	var buf bytes.Buffer
	buf.Grow(n * 400)
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 2); err != nil {
		panic(err)
	}
	if had {
		os.Setenv("GODEBUG", old)
	} else {
		os.Unsetenv("GODEBUG")
	}
	close(release)
	held.Unlock()
	done.Wait()
	runtime.GC()
	return buf.Bytes()
}

func spawnWorkers(n int, release chan struct{}, parked, done *sync.WaitGroup) {
	for i := 0; i < n; i++ {
		labels := pprof.Labels(labelKey, labelValueBase+strconv.Itoa(i%8))
		pprof.Do(context.Background(), labels, func(context.Context) {
			go worker(release, parked, done)
		})
	}
}

func worker(release chan struct{}, parked, done *sync.WaitGroup) {
	parked.Done()
	<-release
	done.Done()
}

func spawnSelects(n int, release chan struct{}, parked, done *sync.WaitGroup) {
	other := make(chan int)
	for i := 0; i < n; i++ {
		go selecter(release, other, parked, done)
	}
}

func selecter(release chan struct{}, other chan int, parked, done *sync.WaitGroup) {
	parked.Done()
	select {
	case <-release:
	case <-other:
	}
	done.Done()
}

func spawnLockers(n int, held *sync.Mutex, parked, done *sync.WaitGroup) {
	for i := 0; i < n; i++ {
		go locker(held, parked, done)
	}
}

func locker(held *sync.Mutex, parked, done *sync.WaitGroup) {
	parked.Done()
	held.Lock()
	held.Unlock() //nolint:staticcheck // only waiting for the release
	done.Done()
}
