// Command bigtarget is the target program of gorigin's attach benchmark: it parks a large
// number of goroutines (-n, default 100000) from six distinct go statements, each in its own
// blocking state (chan receive, select, sync.Mutex.Lock, sleep, sync.Cond.Wait, chan send),
// and measures its own freezes.
//
// A gap watcher goroutine, locked to its own thread, sleeps 200µs in a loop and keeps the
// largest wall-clock gap between two wake-ups: any stop of the whole process (a ptrace
// freeze, a stop-the-world) shows up as a gap. The benchmark drives it over stdin:
//
//	reset  clears the largest gap, answers "ok"
//	gap    answers the largest gap since the last reset, in nanoseconds
//	after  answers the largest gap since the largest one ended, in nanoseconds
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

// What the parked goroutines wait on; nothing ever sends, unlocks or signals.
var (
	never      = make(chan int)
	neverOther = make(chan int)
	nobody     = make(chan int) // no one receives: the senders' channel
	held       sync.Mutex
	condLock   sync.Mutex
	cond       = sync.NewCond(&condLock)
)

func main() {
	n := flag.Int("n", 100000, "number of goroutines to park")
	flag.Parse()
	if *n < 0 {
		fmt.Fprintln(os.Stderr, "bigtarget: -n must not be negative")
		os.Exit(2)
	}

	held.Lock() // never unlocked: the lockers stay parked
	var parked sync.WaitGroup
	c := counts(*n)
	spawnWorkers(c[0], &parked)
	spawnReaders(c[1], &parked)
	spawnWatchers(c[2], &parked)
	spawnSleepers(c[3], &parked)
	spawnWaiters(c[4], &parked)
	spawnSenders(c[5], &parked)
	parked.Wait()
	// Done comes just before each goroutine blocks: give the last ones time to get there.
	time.Sleep(100 * time.Millisecond)

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

// counts splits n among the six go statements below: 40 %, 20 %, 10 %, 10 %, 10 % and the
// rest. The benchmark computes the same split (integration/bench: bigtargetOrigins).
func counts(n int) [6]int {
	c := [6]int{n * 4 / 10, n * 2 / 10, n / 10, n / 10, n / 10}
	c[5] = n - c[0] - c[1] - c[2] - c[3] - c[4]
	return c
}

// The six go statements the benchmark expects to find as six origins, each parking its
// goroutines in its own state.
func spawnWorkers(n int, parked *sync.WaitGroup) {
	parked.Add(n)
	for i := 0; i < n; i++ {
		go worker(parked) // chan receive
	}
}

func spawnReaders(n int, parked *sync.WaitGroup) {
	parked.Add(n)
	for i := 0; i < n; i++ {
		go reader(parked) // select
	}
}

func spawnWatchers(n int, parked *sync.WaitGroup) {
	parked.Add(n)
	for i := 0; i < n; i++ {
		go watcher(parked) // sync.Mutex.Lock
	}
}

func spawnSleepers(n int, parked *sync.WaitGroup) {
	parked.Add(n)
	for i := 0; i < n; i++ {
		go sleeper(parked) // sleep
	}
}

func spawnWaiters(n int, parked *sync.WaitGroup) {
	parked.Add(n)
	for i := 0; i < n; i++ {
		go waiter(parked) // sync.Cond.Wait
	}
}

func spawnSenders(n int, parked *sync.WaitGroup) {
	parked.Add(n)
	for i := 0; i < n; i++ {
		go sender(parked) // chan send
	}
}

func worker(parked *sync.WaitGroup) {
	parked.Done()
	<-never
}

func reader(parked *sync.WaitGroup) {
	parked.Done()
	select {
	case <-never:
	case <-neverOther:
	}
}

func watcher(parked *sync.WaitGroup) {
	parked.Done()
	held.Lock()
}

func sleeper(parked *sync.WaitGroup) {
	parked.Done()
	time.Sleep(1000 * time.Hour)
}

func waiter(parked *sync.WaitGroup) {
	condLock.Lock()
	parked.Done()
	cond.Wait() // never signalled; Wait unlocks condLock for the next waiter
}

func sender(parked *sync.WaitGroup) {
	parked.Done()
	nobody <- 1
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
		case "after":
			fmt.Println(w.afterLargest().Nanoseconds())
		default:
			fmt.Printf("error unknown command %q: use reset, gap or after\n", in.Text())
		}
	}
	os.Exit(0)
}
