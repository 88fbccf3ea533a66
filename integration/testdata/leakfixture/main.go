// Command leakfixture is the target of gorigin's leak tests: every kind of goroutine leak
// the analysis must prove, and every look-alike it must not call leaked. Each go
// statement carries a marker the test reads as its oracle:
//
//	// LEAK name count     every goroutine it starts is leaked (count of them)
//	// NOLEAK name         none of the goroutines it starts may be called leaked
//
// It prints "ready pid=N addr=A" once everything is blocked, serves net/http/pprof on A
// (with /debug/pprof/goroutineleak when built with GOEXPERIMENT=goroutineleakprofile),
// and exits when its standard input closes. -ballast N and -idle N add N MB of heap and N
// goroutines blocked on live channels, for benchmarks.
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

const n = 3 // goroutines per leak pattern

var (
	globalCh = make(chan int)
	globalMu sync.Mutex
	sink     any
)

// ---- leaks ----

func leakSend() {
	ch := make(chan int)
	for i := 0; i < n; i++ {
		go func() { ch <- 1 }() // LEAK send 3
	}
}

func leakRecv() {
	ch := make(chan string)
	for i := 0; i < n; i++ {
		go func() { <-ch }() // LEAK recv 3
	}
}

func leakSelect() {
	a, b := make(chan int), make(chan int, 1)
	b <- 1
	for i := 0; i < n; i++ {
		go func() { // LEAK select 3
			select {
			case <-a:
			case b <- 2:
			}
		}()
	}
}

func leakMutex() {
	// 16 bytes, not a bare 8-byte Mutex: the runtime packs pointer-free objects under 16
	// bytes into shared 16-byte blocks, and conservative marking cannot tell a reachable
	// neighbour in the same block from the mutex (the leak would be called live).
	mu := &struct {
		sync.Mutex
		_ [8]byte
	}{}
	mu.Lock() // never unlocked
	for i := 0; i < n; i++ {
		go func() { mu.Lock() }() // LEAK mutex 3
	}
}

func leakRWMutex() {
	rw := new(sync.RWMutex)
	rw.Lock()
	for i := 0; i < n; i++ {
		go func() { rw.RLock() }() // LEAK rlock 3
	}
	rw2 := new(sync.RWMutex)
	rw2.RLock()
	go func() { rw2.Lock() }() // LEAK wlock 1
}

func leakWaitGroup() {
	wg := new(sync.WaitGroup)
	wg.Add(1)
	for i := 0; i < n; i++ {
		go func() { wg.Wait() }() // LEAK waitgroup 3
	}
}

func leakCond() {
	c := sync.NewCond(new(sync.Mutex))
	for i := 0; i < n; i++ {
		go func() { // LEAK cond 3
			c.L.Lock()
			c.Wait()
			c.L.Unlock()
		}()
	}
}

func leakNil() {
	var ch chan int
	go func() { <-ch }()      // LEAK nilrecv 1
	go func() { ch <- 1 }()   // LEAK nilsend 1
	go func() { select {} }() // LEAK nocases 1
	go func() {               // LEAK nilselect 1
		var a, b chan int
		select {
		case <-a:
		case b <- 1:
		}
	}()
}

// leakChain: each goroutine waits on a channel only the next one could use, and the last
// one's channel is dropped.
func leakChain() {
	c1, c2, c3 := make(chan int), make(chan int), make(chan int)
	go func() { <-c1 }()          // LEAK chain1 1
	go func() { <-c2; c1 <- 1 }() // LEAK chain2 1
	go func() { <-c3; c2 <- 1 }() // LEAK chain3 1
}

// ---- look-alikes that are not leaks ----

func liveGlobal() {
	for i := 0; i < n; i++ {
		go func() { <-globalCh }() // NOLEAK global
	}
	globalMu.Lock()                 // held for good, but global: someone could unlock it
	go func() { globalMu.Lock() }() // NOLEAK globalmutex
}

//go:noinline
func touch(ch chan int) int { return cap(ch) }

// spin keeps ch in its (running) stack frame.
func spin(ch chan int) {
	for {
		deadline := time.Now().Add(time.Millisecond)
		for time.Now().Before(deadline) {
			touch(ch)
		}
		time.Sleep(time.Millisecond)
	}
}

func liveRunning() {
	ch := make(chan int)
	go spin(ch)          // NOLEAK spinner
	go func() { <-ch }() // NOLEAK running
}

func liveMap(m map[string]chan int) {
	ch := make(chan int)
	m["x"] = ch
	go func() { <-ch }() // NOLEAK map
}

func liveTimer() {
	ch := make(chan int)
	time.AfterFunc(time.Hour, func() { ch <- 1 })
	go func() { <-ch }() // NOLEAK timer
	dead := make(chan int)
	go func() { // NOLEAK timerselect
		select {
		case <-time.After(time.Hour):
		case <-dead:
		}
	}()
}

func liveSleeping() {
	ch := make(chan int)
	wg := new(sync.WaitGroup)
	wg.Add(1)
	c := sync.NewCond(new(sync.Mutex))
	go func() { // NOLEAK sleeper
		time.Sleep(time.Hour)
		ch <- 1
		wg.Done()
		c.Broadcast()
	}()
	go func() { <-ch }()                               // NOLEAK sleepheld
	go func() { wg.Wait() }()                          // NOLEAK sleepwg
	go func() { c.L.Lock(); c.Wait(); c.L.Unlock() }() // NOLEAK sleepcond
}

// liveChain: a chain whose last channel is global can still wake up.
func liveChain() {
	c1 := make(chan int)
	go func() { <-c1 }()                // NOLEAK livechain1
	go func() { <-globalCh; c1 <- 1 }() // NOLEAK livechain2
}

type holder struct{ ch chan int }

func liveFinalizer() {
	h := &holder{ch: make(chan int)}
	ch := h.ch
	runtime.SetFinalizer(h, func(h *holder) { h.ch <- 1 })
	go func() { <-ch }() // NOLEAK finalizer
}

func liveNetwork(ln net.Listener) {
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	ch := make(chan int)
	go func() { // NOLEAK netread
		buf := make([]byte, 1)
		conn.Read(buf)
		ch <- 1
	}()
	go func() { <-ch }() // NOLEAK netheld
}

func main() {
	ballast := flag.Int("ballast", 0, "MB of extra heap (small objects holding pointers)")
	idle := flag.Int("idle", 0, "extra goroutines blocked on live channels")
	churn := flag.Int("churn", 0, "pairs of goroutines that block and wake all the time, and a spawner of short-lived ones")
	gaps := flag.Bool("gap", false, "watch for pauses: GET /gap answers the longest since the last GET, in ns; GET /pauses the runtime's own stop-the-world counts")
	parkMain := flag.Bool("parkmain", false, "once ready, park main in select {} (a deliberate idiom, no leak) and exit when stdin closes")
	flag.Parse()
	if *gaps {
		http.HandleFunc("/pauses", pauses)
		go watchGaps() // NOLEAK gapwatch
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go http.Serve(ln, nil) // NOLEAK http

	m := map[string]chan int{}
	leakSend()
	leakRecv()
	leakSelect()
	leakMutex()
	leakRWMutex()
	leakWaitGroup()
	leakCond()
	leakNil()
	leakChain()
	liveGlobal()
	liveRunning()
	liveMap(m)
	liveTimer()
	liveSleeping()
	liveChain()
	liveFinalizer()
	liveNetwork(ln)
	startChurn(*churn)
	sink = makeBallast(*ballast)
	idleCh := make(chan int)
	for i := 0; i < *idle; i++ {
		go func() { <-idleCh }() // NOLEAK idle
	}
	time.Sleep(100 * time.Millisecond) // let every goroutine block
	fmt.Printf("ready pid=%d addr=%s\n", os.Getpid(), ln.Addr())
	if *parkMain {
		// A main parked for good no longer holds m (its frame is dead): a global does, so
		// that the NOLEAK map goroutine stays live in this mode too.
		sink = []any{sink, m}
		go func() { // NOLEAK stdinwatch
			io.Copy(io.Discard, os.Stdin)
			os.Exit(0)
		}()
		select {}
	}
	io.Copy(io.Discard, os.Stdin)
	fmt.Fprintln(os.Stderr, len(m), idleCh != nil)
}

// startChurn starts n pairs of goroutines that hand values over a channel under a mutex
// without pause, and one that keeps starting goroutines that block for a moment: at any
// freeze some are runnable or running, and none is leaked.
func startChurn(n int) {
	if n <= 0 {
		return
	}
	var mu sync.Mutex
	for i := 0; i < n; i++ {
		ch := make(chan int)
		go func() { // NOLEAK churnsend
			for j := 0; ; j++ {
				mu.Lock()
				mu.Unlock()
				ch <- j
			}
		}()
		go func() { // NOLEAK churnrecv
			for v := range ch {
				if v%64 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	go func() { // NOLEAK churnspawner
		for {
			c := make(chan int)
			go func() { c <- 1 }() // NOLEAK churnchild
			time.Sleep(50 * time.Microsecond)
			<-c
		}
	}()
}

// longestGap is the longest time watchGaps saw between two of its 1 ms sleeps, in ns:
// how long the process was stopped (frozen by a debugger), as the process itself sees it.
var longestGap atomic.Int64

func watchGaps() {
	http.HandleFunc("/gap", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, longestGap.Swap(0))
	})
	last := time.Now()
	for {
		time.Sleep(time.Millisecond)
		now := time.Now()
		if d := int64(now.Sub(last)); d > longestGap.Load() {
			longestGap.Store(d)
		}
		last = now
	}
}

// pauses answers the runtime's own account of its stop-the-world pauses so far, for a
// benchmark to subtract two readings: the GC cycles and their summed pauses (exact, from
// ReadGCStats, which does not stop the world itself), then the cumulative histograms of
// every stop (runtime/metrics, Go 1.22+), one line per non-empty bucket [LOWER, UPPER):
//
//	gc-cycles N
//	gc-pause-total-ns NS
//	stw gc|other LOWER-NS UPPER-NS|inf COUNT
func pauses(w http.ResponseWriter, _ *http.Request) {
	var st debug.GCStats
	debug.ReadGCStats(&st)
	fmt.Fprintf(w, "gc-cycles %d\ngc-pause-total-ns %d\n", st.NumGC, st.PauseTotal.Nanoseconds())
	samples := []metrics.Sample{{Name: "/sched/pauses/total/gc:seconds"}, {Name: "/sched/pauses/total/other:seconds"}}
	metrics.Read(samples)
	for i, kind := range []string{"gc", "other"} {
		if samples[i].Value.Kind() != metrics.KindFloat64Histogram {
			continue // before Go 1.22
		}
		h := samples[i].Value.Float64Histogram()
		for j, c := range h.Counts {
			if c == 0 {
				continue
			}
			lower, upper := int64(math.Max(h.Buckets[j], 0)*1e9), "inf"
			if u := h.Buckets[j+1]; !math.IsInf(u, 1) {
				upper = fmt.Sprint(int64(math.Ceil(u * 1e9)))
			}
			fmt.Fprintf(w, "stw %s %d %s %d\n", kind, lower, upper, c)
		}
	}
}

// node is ballast: a tree of small objects with pointers, so marking has work to do.
type node struct {
	next    *node
	payload [48]byte
}

func makeBallast(mb int) []*node {
	var roots []*node
	for i := 0; i < mb*(1<<20)/64; i++ {
		nd := &node{}
		if len(roots) > 0 && i%64 != 0 {
			nd.next = roots[len(roots)-1]
			roots[len(roots)-1] = nd
			continue
		}
		roots = append(roots, nd)
	}
	return roots
}
