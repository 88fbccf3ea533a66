// Command queued is the target of the leaks package's queue test: a goroutine that only a
// finalizer queued to run reaches, and one that only a queued cleanup reaches. The first
// finalizer and the first cleanup block forever (on a global channel), so the ones queued
// after them stay in the runtime's queues (runtime.allfin, runtime.gcCleanups). Neither
// waiter is leaked: unblock the first finalizer and the queued one wakes it.
//
// It prints "ready" once both are queued, and exits when its standard input closes.
// Run it with GOMAXPROCS=1, so that the runtime has one cleanup goroutine.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"time"
)

var (
	block = make(chan int) // the first finalizer and cleanup wait on it
	done  = make(chan int) // main waits on it
)

type obj struct{ _ [4]*int }

func main() {
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	started := make(chan string, 2)
	blockers(started)
	for n := 0; n < 2; {
		select {
		case <-started:
			n++
		case <-time.After(10 * time.Millisecond):
			runtime.GC()
		}
	}
	queue()
	for i := 0; i < 5; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("ready")
	<-done
}

//go:noinline
func blockers(started chan string) {
	runtime.SetFinalizer(new(obj), func(*obj) {
		started <- "finalizer"
		<-block
	})
	runtime.AddCleanup(new(obj), func(int) {
		started <- "cleanup"
		<-block
	}, 0)
}

//go:noinline
func queue() {
	fch, cch := make(chan int), make(chan int)
	go finalizerWaiter(fch)
	go cleanupWaiter(cch)
	runtime.SetFinalizer(new(obj), func(*obj) { <-fch })
	runtime.AddCleanup(new(obj), func(ch chan int) { <-ch }, cch)
}

func finalizerWaiter(ch chan int) { ch <- 1 }

func cleanupWaiter(ch chan int) { ch <- 1 }
