// Command gstructtarget is the fixture of package gstruct's tests: it parks known numbers of
// goroutines in known states, forces two GCs (so that g.waitsince is set), prints "ready"
// and the address of main.chanWaiter, and then answers each "stack" line on stdin with
// runtime.Stack(all) followed by a line "end".
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"
)

// Counts the test expects; keep in sync with gstruct's fixture test.
const (
	nChan     = 7
	nSelect   = 5
	nMutex    = 3
	nSleep    = 2
	nLabelled = 4
	nLocked   = 1
	nBusy     = 2
)

var (
	block   = make(chan int)
	mu      sync.Mutex
	started sync.WaitGroup
	sink    int
)

func chanWaiter() {
	started.Done()
	<-block
}

func selectWaiter() {
	other := make(chan int)
	started.Done()
	select {
	case <-block:
	case <-other:
	}
}

func mutexWaiter() {
	started.Done()
	mu.Lock()
}

func sleeper() {
	started.Done()
	time.Sleep(time.Hour)
}

func labelled() {
	pprof.Do(context.Background(), pprof.Labels("tenant", "a", "job", "x"), func(context.Context) {
		started.Done()
		<-block
	})
}

func locked() {
	runtime.LockOSThread()
	started.Done()
	<-block
}

func busy() {
	started.Done()
	for i := 0; ; i++ {
		if i == -1 {
			sink++
		}
	}
}

func spawn(n int, f func()) {
	started.Add(n)
	for i := 0; i < n; i++ {
		go f()
	}
}

// waitParked waits until want goroutines are parked, so that the GCs that follow set
// their waitsince.
func waitParked(want int) {
	buf := make([]byte, 1<<20)
	for i := 0; i < 1000; i++ {
		n := runtime.Stack(buf, true)
		parked := 0
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			if strings.HasPrefix(line, "goroutine ") && !strings.Contains(line, "[running") && !strings.Contains(line, "[runnable") {
				parked++
			}
		}
		if parked >= want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func main() {
	mu.Lock()
	spawn(nChan, chanWaiter)
	spawn(nSelect, selectWaiter)
	spawn(nMutex, mutexWaiter)
	spawn(nSleep, sleeper)
	spawn(nLabelled, labelled)
	spawn(nLocked, locked)
	spawn(nBusy, busy)
	started.Wait()
	waitParked(nChan + nSelect + nMutex + nSleep + nLabelled + nLocked)
	runtime.GC()
	runtime.GC()
	// The run-time address of a function lets the test check the load bias.
	fmt.Printf("ready %#x\n", reflect.ValueOf(chanWaiter).Pointer())

	in := bufio.NewScanner(os.Stdin)
	buf := make([]byte, 1<<20)
	for in.Scan() {
		if in.Text() != "stack" {
			continue
		}
		n := runtime.Stack(buf, true)
		os.Stdout.Write(buf[:n])
		fmt.Println("\nend")
	}
}
