// Command bigtarget is the target program of gorigin's attach benchmark: it parks a large
// number of goroutines (-n, default 100000) on channel receives from three distinct go
// statements, plus a few in select and on a mutex, and measures its own freezes.
//
// A gap watcher goroutine, locked to its own thread, sleeps 200µs in a loop and keeps the
// largest wall-clock gap between two wake-ups: any stop of the whole process (a ptrace
// freeze, a stop-the-world) shows up as a gap. The benchmark drives it over stdin:
//
//	reset  clears the largest gap, answers "ok"
//	gap    answers the largest gap since the last reset, in nanoseconds
//
// The program serves net/http/pprof on 127.0.0.1 (a peer for the benchmark), prints
// "ready pid=PID addr=HOST:PORT" once every goroutine is parked, and exits when stdin
// closes. It is not a test of gorigin by itself and uses only the standard library.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"sync"
	"time"
)

// watchPeriod is how long the gap watcher sleeps between wake-ups; the benchmark subtracts
// it from the largest gap to get the freeze.
const watchPeriod = 200 * time.Microsecond

// The channels the parked goroutines wait on; nothing ever sends on them.
var (
	never      = make(chan int)
	neverOther = make(chan int)
	held       sync.Mutex
)

func main() {
	n := flag.Int("n", 100000, "number of goroutines to park on channel receives")
	flag.Parse()
	if *n < 0 {
		fmt.Fprintln(os.Stderr, "bigtarget: -n must not be negative")
		os.Exit(2)
	}

	var parked sync.WaitGroup
	spawnWorkers(*n*6/10, &parked)
	spawnReaders(*n*3/10, &parked)
	spawnWatchers(*n-*n*6/10-*n*3/10, &parked)
	held.Lock() // never unlocked: the mutex waiters below stay parked
	spawnOthers(4, &parked)
	parked.Wait()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "bigtarget: listen for pprof: %v\n", err)
		os.Exit(1)
	}
	go http.Serve(ln, nil) // the error is the listener closing at exit

	w := new(gapWatcher)
	go w.run()
	runtime.GC()

	fmt.Printf("ready pid=%d addr=%s\n", os.Getpid(), ln.Addr())
	serveCommands(w)
}

// spawnWorkers, spawnReaders and spawnWatchers are the three go statements the benchmark
// expects to find as three origins (60%, 30% and 10% of -n).
func spawnWorkers(n int, parked *sync.WaitGroup) {
	parked.Add(n)
	for i := 0; i < n; i++ {
		go worker(parked)
	}
}

func spawnReaders(n int, parked *sync.WaitGroup) {
	parked.Add(n)
	for i := 0; i < n; i++ {
		go reader(parked)
	}
}

func spawnWatchers(n int, parked *sync.WaitGroup) {
	parked.Add(n)
	for i := 0; i < n; i++ {
		go watcher(parked)
	}
}

// spawnOthers parks n goroutines in a select and n on the held mutex.
func spawnOthers(n int, parked *sync.WaitGroup) {
	parked.Add(2 * n)
	for i := 0; i < n; i++ {
		go selecter(parked)
		go locker(parked)
	}
}

func worker(parked *sync.WaitGroup) {
	parked.Done()
	<-never
}

func reader(parked *sync.WaitGroup) {
	parked.Done()
	<-never
}

func watcher(parked *sync.WaitGroup) {
	parked.Done()
	<-never
}

func selecter(parked *sync.WaitGroup) {
	parked.Done()
	select {
	case <-never:
	case <-neverOther:
	}
}

func locker(parked *sync.WaitGroup) {
	parked.Done()
	held.Lock()
}

// serveCommands answers the benchmark's commands on stdin until stdin closes.
func serveCommands(w *gapWatcher) {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "reset":
			w.reset()
			fmt.Println("ok")
		case "gap":
			fmt.Println(w.largest().Nanoseconds())
		default:
			fmt.Printf("error unknown command %q: use reset or gap\n", in.Text())
		}
	}
	os.Exit(0)
}
