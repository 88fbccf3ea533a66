// Command prog is a target for the addr2line tests. With the argument
// "callers" it prints runtime.CallersFrames output for stacks that go through
// inlined functions, closures, methods and generic functions; with "stacks"
// it starts goroutines from several kinds of go statements and prints the
// runtime's own traceback of all goroutines.
package main

import (
	"fmt"
	"os"
	"reflect"
	"runtime"
	"sync"
)

type server struct{ ch chan int }

// serve is a method on a pointer receiver that contains a go statement.
//
//go:noinline
func (s *server) serve(wg *sync.WaitGroup) {
	wg.Add(1)
	go s.handle(wg) // ORIGIN serve
}

//go:noinline
func (s *server) handle(wg *sync.WaitGroup) {
	wg.Done()
	<-s.ch
}

// spawn is small enough to inline, but the compiler never inlines a
// function that contains a go statement.
func spawn(ch chan int, wg *sync.WaitGroup) {
	wg.Add(1)
	go worker(ch, wg) // ORIGIN spawn
}

//go:noinline
func worker(ch chan int, wg *sync.WaitGroup) {
	wg.Done()
	<-ch
}

// gen is generic; its closure shows up as main.gen[...].func1.
func gen[T any](ch chan T, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() { // ORIGIN gen
		wg.Done()
		<-ch
	}()
}

// callSpawn inlines into its caller; the go statement stays in spawn.
func callSpawn(ch chan int, wg *sync.WaitGroup) {
	spawn(ch, wg)
}

// leaf, mid and top are small helpers that the compiler inlines, so the PCs
// that runtime.Callers reports from leaf lie inside inlined frames.
func leaf(pcs []uintptr) int {
	return runtime.Callers(1, pcs) // CALLERS leaf
}

func mid(pcs []uintptr) int {
	return leaf(pcs) + 1
}

//go:noinline
func top(pcs []uintptr) int {
	return mid(pcs) - 1
}

// genLeaf is a generic helper inlined into its caller.
func genLeaf[T any](pcs []uintptr, _ T) int {
	return runtime.Callers(1, pcs)
}

//go:noinline
func viaGeneric(pcs []uintptr) int {
	return genLeaf(pcs, 1) + genLeaf(pcs[:0], "x")
}

//go:noinline
func (s *server) method(pcs []uintptr) int {
	return mid(pcs)
}

//go:noinline
func viaClosure(pcs []uintptr) int {
	n := 0
	func() {
		n = runtime.Callers(1, pcs)
	}()
	return n
}

//go:noinline
func notInlined(pcs []uintptr) int {
	return runtime.Callers(1, pcs)
}

func printCallers(label string, pcs []uintptr) {
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		inl := 0
		if f.Func == nil {
			inl = 1
		}
		fmt.Printf("frame %s %#x %#x %d %s %s %d\n", label, f.PC, f.Entry, inl, f.Function, f.File, f.Line)
		if !more {
			break
		}
	}
}

func callers() {
	// The link-time address of main.top lets the test undo a PIE load bias.
	fmt.Printf("anchor main.top %#x\n", reflect.ValueOf(top).Pointer())
	pcs := make([]uintptr, 32)
	printCallers("top", pcs[:top(pcs)])
	pcs = make([]uintptr, 32)
	printCallers("generic", pcs[:viaGeneric(pcs)])
	pcs = make([]uintptr, 32)
	printCallers("method", pcs[:(&server{}).method(pcs)])
	pcs = make([]uintptr, 32)
	printCallers("closure", pcs[:viaClosure(pcs)])
	pcs = make([]uintptr, 32)
	printCallers("plain", pcs[:notInlined(pcs)])
}

func stacks() {
	var wg sync.WaitGroup
	ch := make(chan int)
	s := &server{ch: ch}
	s.serve(&wg)
	callSpawn(ch, &wg)
	gen(ch, &wg)
	gen(make(chan string), &wg)
	wg.Wait()
	// Every goroutine has now passed wg.Done; give them time to block.
	for i := 0; i < 100 && runtime.NumGoroutine() < 5; i++ {
		runtime.Gosched()
	}
	buf := make([]byte, 1<<20)
	os.Stdout.Write(buf[:runtime.Stack(buf, true)])
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: prog callers|stacks")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "callers":
		callers()
	case "stacks":
		stacks()
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}
