// Command objects blocks goroutines on known objects, for gorigin attach --by object:
// nQueue goroutines receive from one global channel, nOwn each from a channel of its
// own, nMutex wait for one global mutex that main holds, and nWG wait on one WaitGroup
// in a heap object a global points to. It serves net/http/pprof for the runtime's own
// goroutine dump.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"sync"
	"time"
)

const (
	nQueue = 40
	nOwn   = 25
	nMutex = 7
	nWG    = 5
)

// Request is what the queue carries.
type Request struct{ id int }

// Pool holds the WaitGroup nothing will ever finish.
type Pool struct {
	name string
	wg   sync.WaitGroup
}

var (
	queue = make(chan *Request)
	mu    sync.Mutex
	pool  = &Pool{name: "workers"}
)

func blockQueue() { <-queue }

func blockOwn(ch chan int) { <-ch }

func blockMutex() { mu.Lock() }

func blockWG() { pool.wg.Wait() }

func main() {
	mu.Lock()
	pool.wg.Add(1)
	for i := 0; i < nQueue; i++ {
		go blockQueue()
	}
	for i := 0; i < nOwn; i++ {
		go blockOwn(make(chan int))
	}
	for i := 0; i < nMutex; i++ {
		go blockMutex()
	}
	for i := 0; i < nWG; i++ {
		go blockWG()
	}
	time.Sleep(200 * time.Millisecond) // the mutex waiters stop spinning and park
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go http.Serve(ln, nil)
	fmt.Printf("ready pid=%d addr=%s\n", os.Getpid(), ln.Addr())
	io.Copy(io.Discard, os.Stdin)
}
