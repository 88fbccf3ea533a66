// Command spin is the target of dbg/native's tests: it starts N OS threads that each
// busy-loop on a counter, counts the SIGUSR1 signals it receives, and prints the
// addresses of a known pattern, of the counters, of the signal count and of an
// optional heap buffer.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"
)

var (
	magic    [64]byte
	counters [8]uint64
	usr1     uint64
	heap     []byte
)

func main() {
	spinners := flag.Int("spin", 4, "busy threads (at most 8)")
	alloc := flag.Int("alloc", 0, "bytes of heap to allocate and fill with byte(i/512), for read benchmarks")
	flag.Parse()
	if *alloc > 0 {
		heap = make([]byte, *alloc)
		for i := range heap {
			heap[i] = byte(i / 512)
		}
	}
	for i := range magic {
		magic[i] = byte(i*7 + 3)
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGUSR1)
	go func() {
		for range sigs {
			atomic.AddUint64(&usr1, 1)
		}
	}()
	for i := 0; i < *spinners && i < len(counters); i++ {
		go func(c *uint64) {
			runtime.LockOSThread()
			for {
				atomic.AddUint64(c, 1)
			}
		}(&counters[i])
	}
	var heapAddr uintptr
	if len(heap) > 0 {
		heapAddr = uintptr(unsafe.Pointer(&heap[0]))
	}
	fmt.Println(uintptr(unsafe.Pointer(&magic)), uintptr(unsafe.Pointer(&counters)), uintptr(unsafe.Pointer(&usr1)), heapAddr)
	select {}
}
