// Command churn is the target of the history tests: goroutines whose fate the test
// decides through GET /step, beside goroutines that come and go on their own.
//
//   - stay: 20 goroutines blocked on a channel receive for good;
//   - move: 10 goroutines blocked on a receive until /step, then in a select (the same
//     goroutines, blocked at another place);
//   - end: 15 goroutines that /step lets return, and 15 new ones it starts (same go
//     statement, new ids);
//   - churn: goroutines that sleep a millisecond and return, started all the time.
//
// GET /gc runs two garbage collections, so that the runtime knows how long each blocked
// goroutine has waited. It prints "ready pid=N addr=A" when all are blocked, and exits when stdin closes.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"sync"
	"time"
)

var (
	never  = make(chan int)
	moveCh = make(chan int)
	mu     sync.Mutex
	endCh  = make(chan int)
)

func stay() { <-never }
func mover() {
	<-moveCh
	select {
	case <-never:
	case <-never:
	}
}
func ender(ch chan int) { <-ch }

func startEnders(ch chan int) {
	for i := 0; i < 15; i++ {
		go ender(ch)
	}
}

func churn() {
	for {
		go func() { time.Sleep(time.Millisecond) }()
		time.Sleep(2 * time.Millisecond)
	}
}

func main() {
	for i := 0; i < 20; i++ {
		go stay()
	}
	for i := 0; i < 10; i++ {
		go mover()
	}
	startEnders(endCh)
	go churn()
	http.HandleFunc("/step", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		for i := 0; i < 10; i++ {
			moveCh <- 1
		}
		close(endCh)
		endCh = make(chan int)
		startEnders(endCh)
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/gc", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC() // two collections: the runtime's waitsince is set for every blocked goroutine
		runtime.GC()
		fmt.Fprintln(w, "ok")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() { io.Copy(io.Discard, os.Stdin); os.Exit(0) }()
	fmt.Printf("ready pid=%d addr=%s\n", os.Getpid(), ln.Addr())
	http.Serve(ln, nil)
}
